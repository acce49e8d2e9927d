// Network facts from /api/info, shared through a context. Until they load (or if the
// server lacks the endpoint) pages fall back to neutral defaults instead of waiting.

import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { Info } from "./api";

export interface NetworkInfo {
  network: string | null;
  chainId: number | null;
  symbol: string;
}

export const DEFAULT_INFO: NetworkInfo = { network: null, chainId: null, symbol: "ETH" };

export function toNetworkInfo(info: Info): NetworkInfo {
  return { network: info.network, chainId: info.chain_id, symbol: info.symbol || DEFAULT_INFO.symbol };
}

export const InfoContext = createContext<NetworkInfo>(DEFAULT_INFO);

export function useInfo(): NetworkInfo {
  return useContext(InfoContext);
}
