/** What the server injects into index.html (or serves at /config.json): no rebuild to rebrand. */
export interface WebConfig {
  brand: { name: string; primaryColor: string; logoUrl: string | null };
  serviceName: string;
  password: { minLength: number; minScore: number; maxLength: number };
  requireEmailVerification: boolean;
}

export const defaultConfig: WebConfig = {
  brand: { name: 'Latchkey', primaryColor: '#1d4ed8', logoUrl: null },
  serviceName: 'Latchkey',
  password: { minLength: 15, minScore: 3, maxLength: 256 },
  requireEmailVerification: true,
};

function merge(value: Partial<WebConfig>): WebConfig {
  return {
    ...defaultConfig,
    ...value,
    brand: { ...defaultConfig.brand, ...value.brand },
    password: { ...defaultConfig.password, ...value.password },
  };
}

/** The injected data block, else /config.json (the Vite dev server), else the defaults. */
export async function loadConfig(): Promise<WebConfig> {
  const block = document.getElementById('latchkey-config');
  if (block?.textContent) {
    try {
      return merge(JSON.parse(block.textContent) as Partial<WebConfig>);
    } catch {
      // fall through
    }
  }
  try {
    const response = await fetch('/config.json', { headers: { accept: 'application/json' } });
    if (response.ok) {
      const config = merge((await response.json()) as Partial<WebConfig>);
      document.documentElement.style.setProperty('--brand', config.brand.primaryColor);
      return config;
    }
  } catch {
    // fall through
  }
  return defaultConfig;
}
