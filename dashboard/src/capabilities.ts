// Provider capability bits, named for display. Only bit 0 (WASI) is defined so far
// (see `polkacompute providers register --capabilities`); others show as `bit N`.

const NAMES: readonly string[] = ["wasi"];

/** `1` → `wasi`; `5` → `wasi, bit 2`. */
export function capabilityNames(mask: number): string {
  const names: string[] = [];
  for (let bit = 0; bit < 32; bit++) {
    if (mask & (1 << bit)) names.push(NAMES[bit] ?? `bit ${bit}`);
  }
  return names.length > 0 ? names.join(", ") : "none";
}
