import type { TokenPair } from './types.js';

/** Where token mode keeps its pair (memory by default; e.g. secure storage on mobile). */
export interface TokenStore {
  get(): TokenPair | undefined | Promise<TokenPair | undefined>;
  set(pair: TokenPair | undefined): void | Promise<void>;
}

export function memoryTokenStore(initial?: TokenPair): TokenStore {
  let pair = initial;
  return {
    get: () => pair,
    set: (next) => {
      pair = next;
    },
  };
}

/**
 * For cookie mode outside a browser (Node scripts, tests): keeps Latchkey's session cookie.
 * Browsers keep it themselves and need none.
 */
export interface CookieJar {
  header(): string | undefined;
  store(setCookie: string[]): void;
}

export function memoryCookieJar(): CookieJar {
  const cookies = new Map<string, string>();
  return {
    header: () =>
      cookies.size ? [...cookies].map(([name, value]) => `${name}=${value}`).join('; ') : undefined,
    store(setCookie) {
      for (const line of setCookie) {
        const [pair = '', ...attributes] = line.split(';');
        const index = pair.indexOf('=');
        if (index < 0) continue;
        const name = pair.slice(0, index).trim();
        const value = pair.slice(index + 1).trim();
        const expired = attributes.some(
          (a) => /^\s*max-age=0\s*$/i.test(a) || /^\s*expires=thu, 01 jan 1970/i.test(a),
        );
        if (expired || value === '') cookies.delete(name);
        else cookies.set(name, value);
      }
    },
  };
}
