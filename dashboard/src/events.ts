// One-line summaries of chain events for the job timeline and the activity feed.

import { NATIVE_TOKEN, type EventArgs } from "./api";
import { formatAmount, shortHex } from "./format";

type Args = Record<string, unknown>;

const str = (v: unknown): string => (typeof v === "string" ? v : typeof v === "number" || typeof v === "bigint" ? String(v) : "");
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const addr = (v: unknown): string => shortHex(str(v));

/** bytes32 reason codes such as `0x4147524545440000…` read as text ("AGREED"). */
export function bytes32Text(value: unknown): string {
  const hex = str(value);
  if (!/^0x[0-9a-fA-F]{64}$/.test(hex)) return hex;
  let text = "";
  for (let i = 2; i < hex.length; i += 2) {
    const code = parseInt(hex.slice(i, i + 2), 16);
    if (code === 0) break;
    if (code < 0x20 || code > 0x7e) return shortHex(hex);
    text += String.fromCharCode(code);
  }
  return text || shortHex(hex);
}

/** Bytes that hold text (a registered peer address: a multiaddr or URL) as that text. */
function bytesText(value: unknown): string {
  const hex = str(value);
  if (!/^0x([0-9a-fA-F]{2})*$/.test(hex)) return hex;
  const codes = hex.slice(2).match(/../g)?.map((pair) => parseInt(pair, 16)) ?? [];
  return codes.every((c) => c >= 0x20 && c <= 0x7e) ? String.fromCharCode(...codes) : shortHex(hex);
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? "" : "s"}`;

/** Native amounts with the network's symbol; other tokens by (short) address. */
function tokenAmount(token: unknown, amount: unknown, symbol: string): string {
  const t = str(token);
  return !t || t === NATIVE_TOKEN ? formatAmount(str(amount), symbol) : formatAmount(str(amount), `@${shortHex(t)}`);
}

// IJobMarket.WorkerOutcome, in declaration order.
const WORKER_OUTCOMES = ["held", "slashed mismatch", "slashed no-show", "released"];

function workerOutcome(value: unknown): string {
  const index = Number(value);
  return WORKER_OUTCOMES[index] ?? str(value);
}

/** `a → 1 ETH, b → 2 ETH` from parallel arrays. */
function pairs(keys: unknown, amounts: unknown, symbol: string): string {
  const values = list(amounts);
  return list(keys).map((k, i) => `${addr(k)} ${formatAmount(str(values[i]), symbol)}`).join(", ");
}

/** Generic fallback: the first few arguments, shortened. */
function generic(args: Args): string {
  return Object.entries(args)
    .filter(([key]) => key !== "jobId")
    .slice(0, 4)
    .map(([key, value]) => `${key}=${brief(value)}`)
    .join(" ");
}

function brief(value: unknown): string {
  if (Array.isArray(value)) return `[${value.length}]`;
  if (value !== null && typeof value === "object") return "{…}";
  const text = str(value) || String(value);
  return text.startsWith("0x") ? shortHex(text) : text;
}

export function summarizeEvent(name: string, args: EventArgs, symbol: string): string {
  const a = args as Args;
  const amount = (v: unknown) => formatAmount(str(v), symbol);
  switch (name) {
    case "JobSubmitted": {
      const spec = (a["spec"] ?? {}) as Args;
      return `by ${addr(a["requester"])}, ${str(spec["replicas"]) || "?"} replicas, quorum ${str(spec["quorum"]) || "?"}`;
    }
    case "BidPlaced":
      return `${addr(a["provider"])} bids ${amount(a["price"])}`;
    case "JobAssigned":
      return `workers ${list(a["workers"]).map(addr).join(", ")}`;
    case "SealCommitted":
      return `seal by ${addr(a["worker"])}`;
    case "SealsCommitted":
      return `${plural(list(a["seals"]).length, "seal")} committed`;
    case "ResultRevealed":
      return `${addr(a["worker"])} revealed ${shortHex(str(a["resultDigest"]))}`;
    case "JobFinalized":
      return `result ${shortHex(str(a["resultDigest"]))}`;
    case "JobFailed":
    case "JobCancelled":
      return "";
    case "WorkerSettled":
      return `${addr(a["worker"])} ${workerOutcome(a["outcome"])} ${amount(a["amount"])}`;
    case "Deposited":
      return `${tokenAmount(a["token"], a["amount"], symbol)} from ${addr(a["payer"])}`;
    case "Paid":
      return `${pairs(a["payees"], a["amounts"], symbol)}; fees ${amount(a["fees"])}`;
    case "Refunded":
      return `${amount(a["amount"])} to ${addr(a["to"])}`;
    case "Slashed":
      return `${addr(a["provider"])} slashed ${amount(a["amount"])} (${bytes32Text(a["reason"])})`;
    case "CollateralLocked":
      return `${addr(a["provider"])} locked ${amount(a["amountEach"])}`;
    case "CollateralReleased":
      return `${list(a["providers"]).length} released ${amount(a["amount"])} (${bytes32Text(a["reason"])})`;
    case "ReputationChanged":
      return `${addr(a["provider"])} ${str(a["previous"])} → ${str(a["current"])} (${bytes32Text(a["reason"])})`;
    case "ProviderRegistered":
      return `${addr(a["provider"])} staked ${amount(a["stake"])}; peer ${bytesText(a["peerId"]) || "—"}`;
    case "ProviderUpdated":
      return `${addr(a["provider"])} peer ${bytesText(a["peerId"]) || "—"}`;
    case "StakeAdded":
      return `${addr(a["provider"])} added ${amount(a["amount"])}, stake ${amount(a["stake"])}`;
    case "UnbondRequested":
      return `${addr(a["provider"])} unbonds ${amount(a["amount"])}`;
    case "Withdrawn":
      return `${addr(a["owner"])} withdrew ${tokenAmount(a["token"], a["amount"], symbol)}`;
    case "NativeCredited":
      return `${amount(a["amount"])} to ${addr(a["to"])}`;
    default:
      return generic(a);
  }
}
