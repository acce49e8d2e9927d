// Display formatting: wei amounts, addresses and hashes, times and durations.

/** Parses a decimal wei string; anything malformed counts as zero rather than throwing mid-render. */
export function toBigInt(value: string | number | bigint | null | undefined): bigint {
  if (typeof value === "bigint") return value;
  if (typeof value === "number") return Number.isFinite(value) ? BigInt(Math.trunc(value)) : 0n;
  if (typeof value !== "string" || !/^-?\d+$/.test(value)) return 0n;
  return BigInt(value);
}

/** `1500000000000000000` → `1.5` (exact, no float rounding), at most `digits` fraction digits. */
export function formatUnits(wei: string | bigint | null | undefined, digits = 4, decimals = 18): string {
  const value = toBigInt(wei);
  const negative = value < 0n;
  const abs = negative ? -value : value;
  const unit = 10n ** BigInt(decimals);
  const whole = abs / unit;
  let fraction = (abs % unit).toString().padStart(decimals, "0").slice(0, digits).replace(/0+$/, "");
  // Keep tiny non-zero amounts visibly non-zero.
  if (whole === 0n && fraction === "" && abs > 0n) return `${negative ? "-" : ""}<0.${"0".repeat(Math.max(digits - 1, 0))}1`;
  const wholeText = whole.toLocaleString("en-US");
  fraction = fraction ? `.${fraction}` : "";
  return `${negative ? "-" : ""}${wholeText}${fraction}`;
}

/** Amount with its token symbol, e.g. `1.5 ETH`. */
export function formatAmount(wei: string | bigint | null | undefined, symbol: string, digits = 4): string {
  return `${formatUnits(wei, digits)} ${symbol}`;
}

/** wei → a float in whole tokens, for charts only (precision loss is fine there). */
export function weiToFloat(wei: string | null | undefined): number {
  const value = toBigInt(wei);
  const unit = 10n ** 18n;
  return Number(value / unit) + Number(value % unit) / 1e18;
}

/** `0x1234567890abcdef…` → `0x1234…cdef`. */
export function shortHex(hex: string | null | undefined, head = 6, tail = 4): string {
  if (!hex) return "—";
  return hex.length <= head + tail + 1 ? hex : `${hex.slice(0, head)}…${hex.slice(-tail)}`;
}

export function sameAddress(a: string | null | undefined, b: string | null | undefined): boolean {
  return !!a && !!b && a.toLowerCase() === b.toLowerCase();
}

/** Unix seconds → local `YYYY-MM-DD HH:MM:SS`. */
export function formatTime(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return "—";
  const d = new Date(seconds * 1000);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Unix seconds → `HH:MM:SS`, for dense tables. */
export function formatClock(seconds: number): string {
  return formatTime(seconds).slice(11);
}

/** Seconds → `42 s`, `3 m 20 s`, `2 h 5 m`. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "—";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} m ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} m`;
}

export function formatNumber(value: number | null | undefined, maxFraction = 0): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  return value.toLocaleString("en-US", { maximumFractionDigits: maxFraction });
}

const compact = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });

/** `512345` → `512.3K`, for chart axes. */
export function formatCompact(value: number): string {
  return Number.isFinite(value) ? compact.format(value) : "—";
}

/** A 0..1 ratio → `97.5 %`. */
export function formatPercent(ratio: number | null | undefined, maxFraction = 1): string {
  if (ratio === null || ratio === undefined || !Number.isFinite(ratio)) return "—";
  return `${(ratio * 100).toLocaleString("en-US", { maximumFractionDigits: maxFraction })} %`;
}

/** Reputation is in basis points (0..10000). */
export function formatReputation(bps: number): string {
  return formatPercent(bps / 10000, 2);
}

/** Latency of a job: blocks and seconds between submission and its end. */
export function jobLatency(job: { submitted_block: number; ended_block: number | null; submitted_time?: number | null; ended_time?: number | null }): string {
  if (job.ended_block == null) return "—";
  const blocks = `${job.ended_block - job.submitted_block} blk`;
  // Times may be missing from older API versions; blocks alone still say something.
  if (job.ended_time == null || job.submitted_time == null) return blocks;
  return `${blocks} · ${formatDuration(job.ended_time - job.submitted_time)}`;
}

export function bytesToHex(bytes: Uint8Array): string {
  let out = "0x";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

/** Sum of a `{addr: wei}` map. */
export function sumWei(amounts: Record<string, string>): bigint {
  let total = 0n;
  for (const value of Object.values(amounts)) total += toBigInt(value);
  return total;
}
