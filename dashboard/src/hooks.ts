// Small data-loading hooks shared by the pages.

import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { errorMessage, isAbort, type ChainEvent } from "./api";
import { chainStream } from "./stream";

export interface Async<T> {
  data: T | null;
  error: string | null;
  loading: boolean;
  /** Re-runs the request, keeping the current data on screen meanwhile. */
  reload: () => void;
}

/**
 * Runs `load` when `deps` change and on `reload()`. Stale responses are aborted, and the
 * previous data stays visible while a refresh is in flight (no flicker on live updates).
 */
export function useAsync<T>(load: (signal: AbortSignal) => Promise<T>, deps: readonly unknown[]): Async<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  const depsKey = JSON.stringify(deps);
  const lastKey = useRef(depsKey);

  useEffect(() => {
    if (lastKey.current !== depsKey) {
      // A different resource: don't show the old one's data under the new heading.
      lastKey.current = depsKey;
      setData(null);
    }
    const controller = new AbortController();
    setLoading(true);
    loadRef.current(controller.signal).then(
      (value) => {
        setData(value);
        setError(null);
        setLoading(false);
      },
      (err: unknown) => {
        if (isAbort(err)) return;
        setError(errorMessage(err));
        setLoading(false);
      },
    );
    return () => controller.abort();
  }, [depsKey, tick]);

  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload };
}

/** Calls `fn` every `ms` while mounted and the tab is visible. */
export function useInterval(fn: () => void, ms: number): void {
  const fnRef = useRef(fn);
  fnRef.current = fn;
  useEffect(() => {
    const id = setInterval(() => {
      if (document.visibilityState === "visible") fnRef.current();
    }, ms);
    return () => clearInterval(id);
  }, [ms]);
}

/** A function that runs `fn` at most once per `ms` (leading and trailing calls). */
export function useThrottle(fn: () => void, ms: number): () => void {
  const fnRef = useRef(fn);
  fnRef.current = fn;
  const last = useRef(0);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(() => () => {
    if (timer.current) clearTimeout(timer.current);
  }, []);
  return useCallback(() => {
    if (timer.current) return; // A trailing call is already scheduled.
    const wait = last.current + ms - Date.now();
    const run = () => {
      timer.current = null;
      last.current = Date.now();
      fnRef.current();
    };
    if (wait <= 0) run();
    else timer.current = setTimeout(run, wait);
  }, [ms]);
}

/** Subscribes to chain events from the shared stream while mounted. */
export function useChainEvents(listener: (event: ChainEvent) => void): void {
  const ref = useRef(listener);
  ref.current = listener;
  useEffect(() => chainStream.subscribe((event) => ref.current(event)), []);
}

/** Whether the shared stream is connected. */
export function useStreamLive(): boolean {
  const [live, setLive] = useState(chainStream.live);
  useEffect(() => {
    setLive(chainStream.live);
    return chainStream.onStatus(setLive);
  }, []);
  return live;
}

/** `value`, once it has stopped changing for `ms`. */
export function useDebounced<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const id = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(id);
  }, [value, ms]);
  return settled;
}
