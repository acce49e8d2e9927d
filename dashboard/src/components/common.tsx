// Small presentational pieces used across pages.

import type { ComponentChildren } from "preact";
import { href } from "../router";
import { formatAmount, shortHex } from "../format";
import { useInfo } from "../info";

export function StatusBadge({ status, testid }: { status: string; testid?: string }) {
  return (
    <span class={`badge badge-${status.toLowerCase()}`} data-testid={testid}>
      {status}
    </span>
  );
}

/** A worker/provider address, linking to its page. */
export function WorkerLink({ address }: { address: string }) {
  return (
    <a class="mono" href={href.worker(address)} title={address} onClick={stop}>
      {shortHex(address)}
    </a>
  );
}

export function JobLink({ id }: { id: number | string }) {
  return (
    <a href={href.job(id)} onClick={stop}>
      #{id}
    </a>
  );
}

/** A hash or address shown short, full value on hover. */
export function Hash({ value }: { value: string | null | undefined }) {
  return (
    <span class="mono" title={value ?? undefined}>
      {shortHex(value)}
    </span>
  );
}

/** A job's runtime: its name where the identity is a known runtime, else the identity shortened;
 * the full identity on hover either way. */
export function Runtime({ id, name, testid }: { id: string; name: string | null | undefined; testid?: string }) {
  return name ? (
    <span class="runtime-name" title={id} data-testid={testid}>
      {name}
    </span>
  ) : (
    <span class="mono" title={id} data-testid={testid}>
      {shortHex(id)}
    </span>
  );
}

/** A wei amount in the network's native token. */
export function Amount({ wei, digits = 4 }: { wei: string | bigint | null | undefined; digits?: number }) {
  const { symbol } = useInfo();
  return <span class="num">{formatAmount(wei, symbol, digits)}</span>;
}

export function ErrorBox({ message }: { message: string }) {
  return (
    <p class="error" role="alert">
      {message}
    </p>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}

export function Loading() {
  return <p class="muted">Loading…</p>;
}

/** A table that scrolls sideways on narrow screens instead of squeezing its columns. */
export function TableScroll({ children }: { children: ComponentChildren }) {
  return <div class="table-scroll">{children}</div>;
}

/** Links inside clickable rows must not also trigger the row's handler. */
function stop(event: Event): void {
  event.stopPropagation();
}
