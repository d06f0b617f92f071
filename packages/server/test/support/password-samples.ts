/** `length` pseudo-random printable ASCII characters (xorshift32, fixed seed): no pattern. */
export const varied = (length: number) => {
  const alphabet = 'abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789!#$%&*+=?@^~';
  let x = 0x2545f491;
  let out = '';
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out += alphabet[(x >>> 0) % alphabet.length];
  }
  return out;
};

/** The full-width form of printable ASCII (U+FF01-U+FF5E), which NFKC maps back. */
export const fullWidth = (ascii: string) =>
  [...ascii].map((c) => String.fromCodePoint((c.codePointAt(0) ?? 0) + 0xfee0)).join('');
