import UAParser from 'ua-parser-js';

/**
 * A short, readable name for the device behind a user agent, for the list of signed-in
 * devices: "Firefox 133 on Windows 10", "Mobile Safari 17 on iOS 17.1 (Apple iPhone)".
 */
export function deviceLabel(userAgent: string | null | undefined): string {
  if (!userAgent) return 'Unknown device';
  const { browser, os, device } = new UAParser(userAgent.slice(0, 512)).getResult();
  const browserText = browser.name
    ? [browser.name, browser.major].filter(Boolean).join(' ')
    : undefined;
  const osText = os.name ? [os.name, os.version].filter(Boolean).join(' ') : undefined;
  const hardware = [device.vendor, device.model].filter(Boolean).join(' ');
  let label: string;
  if (browserText && osText) label = `${browserText} on ${osText}`;
  else if (browserText || osText) label = (browserText ?? osText) as string;
  else {
    // Not a browser (curl/8.5.0, okhttp/4.12, a script): its first product token says enough.
    const product = /^[\w.+-]+(\/[\w.+-]+)?/.exec(userAgent.trim())?.[0];
    label = product ? product.slice(0, 60) : 'Unknown device';
  }
  return hardware ? `${label} (${hardware})` : label;
}
