// Client-side verification of a job's result: the SHA-256 of the DAG-CBOR document the
// API serves must equal the digest the contracts finalized. @noble/hashes rather than
// crypto.subtle, which browsers withhold from plain-http pages on non-localhost origins.

import { sha256 } from "@noble/hashes/sha2.js";
import { decode } from "cborg";
import { api, errorMessage, isAbort } from "./api";
import { bytesToHex } from "./format";

/** The canonical result document (see polkacompute.sandbox.result). */
export interface ResultDocument {
  v: number;
  status: string;
  detail: string;
  exit: number;
  output: Uint8Array;
}

export type Verification =
  | { state: "ok"; digest: string; document: ResultDocument | null; decodeError: string | null }
  | { state: "mismatch"; got: string; expected: string }
  | { state: "error"; message: string };

// DAG-CBOR links (tag 42) are not expected in a result, but must not make decoding fail.
const TAGS = { 42: (decodeInner: () => unknown) => decodeInner() };

export function decodeResult(bytes: Uint8Array): ResultDocument {
  const value: unknown = decode(bytes, { tags: TAGS });
  if (value === null || typeof value !== "object") throw new Error("result is not a CBOR map");
  const doc = value as Partial<ResultDocument>;
  return {
    v: typeof doc.v === "number" ? doc.v : 0,
    status: typeof doc.status === "string" ? doc.status : "?",
    detail: typeof doc.detail === "string" ? doc.detail : "",
    exit: typeof doc.exit === "number" ? doc.exit : 0,
    output: doc.output instanceof Uint8Array ? doc.output : new Uint8Array(),
  };
}

/** Output as text when it is valid UTF-8, else as hex. */
export function outputText(output: Uint8Array): { text: string; binary: boolean } {
  try {
    return { text: new TextDecoder("utf-8", { fatal: true }).decode(output), binary: false };
  } catch {
    return { text: bytesToHex(output), binary: true };
  }
}

export async function verifyResult(jobId: number, expected: string, signal?: AbortSignal): Promise<Verification> {
  let bytes: Uint8Array;
  try {
    bytes = await api.result(jobId, signal);
  } catch (err) {
    if (isAbort(err)) throw err;
    return { state: "error", message: errorMessage(err) };
  }
  const digest = bytesToHex(sha256(bytes));
  if (digest.toLowerCase() !== expected.toLowerCase()) return { state: "mismatch", got: digest, expected };
  try {
    return { state: "ok", digest, document: decodeResult(bytes), decodeError: null };
  } catch (err) {
    return { state: "ok", digest, document: null, decodeError: errorMessage(err) };
  }
}
