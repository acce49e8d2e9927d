// Typed client of the indexer's HTTP API (same origin). Every failure — network, HTTP status,
// bad JSON — surfaces as one ApiError so pages can show a message instead of throwing.

/** Decimal string of an integer amount in wei (or token base units). */
export type Wei = string;
/** 0x-prefixed hex: addresses (checksummed), digests, bytes32. */
export type Hex = string;

export type JobStatus = "SUBMITTED" | "ASSIGNED" | "FINALIZED" | "FAILED" | "CANCELLED" | "DISPUTED" | "RESOLVED";
export const JOB_STATUSES: readonly JobStatus[] = [
  "SUBMITTED", "ASSIGNED", "FINALIZED", "FAILED", "CANCELLED", "DISPUTED", "RESOLVED",
];

export const NATIVE_TOKEN = "0x0000000000000000000000000000000000000000";

export interface Info {
  network: string;
  chain_id: number;
  version: string;
  symbol: string;
}

export interface Percentiles {
  p50: number | null;
  p90: number | null;
}

export interface Stats {
  jobs: number;
  by_status: Record<string, number>;
  success_rate: number | null;
  latency_blocks: Percentiles;
  latency_s: Percentiles;
  jobs_per_minute: number;
  active_workers: number;
  escrowed: Record<Hex, Wei>;
  gas_per_job: number | null;
  events: number;
  /** Id of the newest indexed event (ids can skip after a reorg, so not `events`). */
  last_event_id: number;
  last_block: number;
}

export interface SeriesPoint {
  t: number;
  submitted: number;
  finalized: number;
  failed: number;
  success_rate: number | null;
  latency_s_p50: number | null;
  gas_per_job: number | null;
  active_workers: number;
  escrowed: Record<Hex, Wei>;
}

export interface Series {
  bucket_s: number;
  end: number;
  points: SeriesPoint[];
}

export interface Job {
  id: number;
  status: JobStatus;
  requester: Hex;
  runtime: Hex;
  /** The runtime's name when the indexer knows the identity (installed where it runs), else null. */
  runtime_name: string | null;
  replicas: number;
  quorum: number;
  assignees: Hex[];
  submitted_block: number;
  ended_block: number | null;
  submitted_time: number;
  ended_time: number | null;
  gas_used: number | null;
  result_digest: Hex | null;
  result_cid: string | null;
  paid: Record<Hex, Wei>;
  slashed: Record<Hex, Wei>;
}

export type Outcome = "pending" | "paid" | "held" | "released" | "slashed_mismatch" | "slashed_no_show";

/** Event arguments as indexed: big ints as decimal strings, bytes as 0x hex, arrays and structs nested. */
export type EventArgs = Record<string, unknown>;

export interface TimelineEvent {
  name: string;
  block: number;
  time: number;
  tx: Hex;
  args: EventArgs;
}

export interface JobDetail extends Job {
  prices: Record<Hex, Wei>;
  outcomes: Record<Hex, Outcome>;
  revealed: Record<Hex, Hex>;
  timeline: TimelineEvent[];
}

export interface Provider {
  address: Hex;
  status: "active" | "deregistered" | "none";
  stake: Wei;
  locked: Wei;
  unbonding: Wei;
  reputation: number;
  capabilities: number;
  region: string;
  peer_id: string;
  earned: Wei;
  slashed: Wei;
}

export interface ReputationChange {
  block: number;
  time: number;
  job_id: number | null;
  reputation: number;
  reason: string;
}

export interface Slash {
  block: number;
  time: number;
  job_id: number | null;
  amount: Wei;
}

export interface ProviderDetail extends Provider {
  reputation_history: ReputationChange[];
  slashes: Slash[];
  recent_jobs: Job[];
}

/** One indexed chain event, as sent on the SSE stream (event type `chain`). */
export interface ChainEvent {
  id: number;
  name: string;
  contract: string;
  block: number;
  time: number;
  tx: Hex;
  jobs: number[];
  args: EventArgs;
}

export type ProviderSort = "reputation" | "earned" | "stake";

export interface JobFilters {
  status?: string;
  requester?: string;
  provider?: string;
  runtime?: string;
  before?: number;
  limit?: number;
}

export class ApiError extends Error {
  /** HTTP status, or 0 when the server could not be reached or answered garbage. */
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

/** Builds `path?k=v…`, dropping empty values. */
export function withQuery(path: string, params: Record<string, string | number | undefined>): string {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== "") query.set(key, String(value));
  }
  const qs = query.toString();
  return qs ? `${path}?${qs}` : path;
}

async function request(path: string, signal?: AbortSignal): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(path, signal ? { signal } : {});
  } catch (err) {
    if (err instanceof DOMException && err.name === "AbortError") throw err;
    throw new ApiError(0, "cannot reach the indexer API");
  }
  if (!response.ok) throw new ApiError(response.status, await errorDetail(response));
  return response;
}

/** FastAPI's `{"detail": …}` (a string, or a list of validation errors for a 422). */
async function errorDetail(response: Response): Promise<string> {
  const fallback = `${response.status} ${response.statusText}`.trim();
  try {
    const body: unknown = await response.json();
    const detail = (body as { detail?: unknown } | null)?.detail;
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) {
      return detail.map((d) => (d as { msg?: unknown }).msg).filter((m) => typeof m === "string").join("; ") || fallback;
    }
  } catch {
    // Not JSON (e.g. a proxy's HTML error page): the status line says enough.
  }
  return fallback;
}

async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  const response = await request(path, signal);
  try {
    return (await response.json()) as T;
  } catch {
    throw new ApiError(0, `bad JSON from ${path}`);
  }
}

export const api = {
  info: (signal?: AbortSignal) => getJson<Info>("/api/info", signal),
  stats: (signal?: AbortSignal) => getJson<Stats>("/api/stats", signal),
  series: (minutes: number, signal?: AbortSignal) => getJson<Series>(withQuery("/api/series", { minutes }), signal),
  jobs: (filters: JobFilters, signal?: AbortSignal) =>
    getJson<Job[]>(withQuery("/api/jobs", { ...filters }), signal),
  job: (id: number, signal?: AbortSignal) => getJson<JobDetail>(`/api/jobs/${id}`, signal),
  /** The raw DAG-CBOR result document of a finalized job. */
  result: async (id: number, signal?: AbortSignal): Promise<Uint8Array> => {
    const response = await request(`/api/jobs/${id}/result`, signal);
    return new Uint8Array(await response.arrayBuffer());
  },
  providers: (sort: ProviderSort, signal?: AbortSignal) =>
    getJson<Provider[]>(withQuery("/api/providers", { sort }), signal),
  provider: (address: string, signal?: AbortSignal) =>
    getJson<ProviderDetail>(`/api/providers/${encodeURIComponent(address)}`, signal),
};

/** A message for any error a request may raise. */
export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}

export function isAbort(err: unknown): boolean {
  return err instanceof DOMException && err.name === "AbortError";
}
