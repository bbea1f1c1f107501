/**
 * Headless Chromium for the web chat's tests, driven by playwright-core. Debian's `chromium` is
 * used (playwright's own browser builds are downloads, which this project must not need); when it
 * is missing, it is installed with apt-get where that is possible (root), once per test run.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";
import { runMarkerEnv } from "./spawn.js";

export const CHROMIUM_PATH = "/usr/bin/chromium";

/** The flags the browser tests run with: headless, no sandbox (root), and nothing phoning home. */
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

/** Installs Debian's chromium if it is missing; returns why it cannot be had, or null when it is there. */
export function ensureChromium(): string | null {
  if (existsSync(CHROMIUM_PATH)) return null;
  if (process.getuid?.() !== 0) return `${CHROMIUM_PATH} is missing and this user cannot install it (run as root, or apt-get install chromium)`;
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    execFileSync("apt-get", ["update"], { stdio: "ignore", timeout: 180_000, env });
    execFileSync("apt-get", ["install", "-y", "--no-install-recommends", "chromium"], { stdio: "ignore", timeout: 400_000, env });
  } catch (error) {
    return `apt-get install chromium failed: ${(error as Error).message}`;
  }
  return existsSync(CHROMIUM_PATH) ? null : `apt-get installed no ${CHROMIUM_PATH}`;
}

/**
 * Launches the headless browser, carrying the run's marker: should it outlive its tests, the
 * global teardown finds it (and its helper processes) and fails the run.
 */
export const launchChromium = (): Promise<Browser> =>
  chromium.launch({ executablePath: CHROMIUM_PATH, args: FLAGS, headless: true, env: { ...process.env, ...runMarkerEnv() } });
