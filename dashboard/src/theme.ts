// Light/dark theme: follows prefers-color-scheme until the user picks one with the toggle
// (remembered in localStorage). The resolved theme is set as <html data-theme>, which the
// CSS variables key on, and announced so canvas charts can redraw in the new colours.

export type Theme = "light" | "dark";

const STORAGE_KEY = "polkacompute.theme";
const CHANGE_EVENT = "themechange";
const media = window.matchMedia("(prefers-color-scheme: dark)");

function readStored(): Theme | null {
  try {
    const value = localStorage.getItem(STORAGE_KEY);
    return value === "light" || value === "dark" ? value : null;
  } catch {
    return null; // Storage can be disabled (privacy modes); fall back to the system theme.
  }
}

/** The user's explicit choice, if any. */
let choice: Theme | null = readStored();

export function currentTheme(): Theme {
  return choice ?? (media.matches ? "dark" : "light");
}

function apply(): void {
  const theme = currentTheme();
  if (document.documentElement.dataset["theme"] === theme) return;
  document.documentElement.dataset["theme"] = theme;
  window.dispatchEvent(new Event(CHANGE_EVENT));
}

export function toggleTheme(): void {
  choice = currentTheme() === "dark" ? "light" : "dark";
  try {
    localStorage.setItem(STORAGE_KEY, choice);
  } catch {
    // Not persisted; still applied for this page view.
  }
  apply();
}

export function initTheme(): void {
  apply();
  media.addEventListener("change", apply);
}

export function onThemeChange(listener: () => void): () => void {
  window.addEventListener(CHANGE_EVENT, listener);
  return () => window.removeEventListener(CHANGE_EVENT, listener);
}

/** Reads a CSS custom property of the current theme (for canvas drawing). */
export function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}
