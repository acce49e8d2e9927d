// The one SSE connection to /api/stream, shared by every page. It keeps the last
// events so the Activity page has a backlog to show when it mounts.
//
// The server resumes from `?after=<id>` (not from Last-Event-ID), so instead of letting
// EventSource retry the original URL — which would replay everything since the first
// `after` — we close on error and reconnect ourselves from the last id we saw.

import type { ChainEvent } from "./api";

export type StreamListener = (event: ChainEvent) => void;
export type StatusListener = (live: boolean) => void;

export const RECENT_CAP = 500;
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 15000;

class ChainStream {
  private source: EventSource | null = null;
  private lastId: number | null = null;
  private retryMs = RETRY_MIN_MS;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly recentEvents: ChainEvent[] = [];
  private readonly listeners = new Set<StreamListener>();
  private readonly statusListeners = new Set<StatusListener>();
  private isLive = false;

  /** Connects once; `after` replays the events with a greater id first (the backlog). */
  start(after: number | null): void {
    if (this.source || this.retryTimer) return;
    this.lastId = after;
    this.connect();
  }

  get live(): boolean {
    return this.isLive;
  }

  /** The latest events, oldest first, at most RECENT_CAP. */
  recent(): readonly ChainEvent[] {
    return this.recentEvents;
  }

  subscribe(listener: StreamListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onStatus(listener: StatusListener): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  private connect(): void {
    this.retryTimer = null;
    const url = this.lastId === null ? "/api/stream" : `/api/stream?after=${this.lastId}`;
    const source = new EventSource(url);
    this.source = source;
    source.onopen = () => {
      this.retryMs = RETRY_MIN_MS;
      this.setLive(true);
    };
    source.addEventListener("chain", (message: MessageEvent<string>) => this.receive(message.data));
    source.onerror = () => {
      source.close();
      this.source = null;
      this.setLive(false);
      this.retryTimer = setTimeout(() => this.connect(), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
    };
  }

  private receive(data: string): void {
    let event: ChainEvent;
    try {
      event = JSON.parse(data) as ChainEvent;
    } catch {
      return; // A malformed message is dropped rather than breaking the stream.
    }
    if (typeof event.id !== "number" || (this.lastId !== null && event.id <= this.lastId)) return;
    this.lastId = event.id;
    if (!Array.isArray(event.jobs)) event.jobs = [];
    this.recentEvents.push(event);
    if (this.recentEvents.length > RECENT_CAP) this.recentEvents.splice(0, this.recentEvents.length - RECENT_CAP);
    for (const listener of this.listeners) listener(event);
  }

  private setLive(live: boolean): void {
    if (live === this.isLive) return;
    this.isLive = live;
    for (const listener of this.statusListeners) listener(live);
  }
}

export const chainStream = new ChainStream();
