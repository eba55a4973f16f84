/**
 * Recovery tracking: the state behind "the dependency works again".
 *
 * - A dependency (service host + identity) that failed with H2 and later answers 2xx for the same identity has
 *   recovered: typically an RBAC assignment that finished propagating. The time from the first failure to the
 *   first success is the evidence.
 * - getToken failing with H5 (identity endpoint unreachable) or H1 (identity not assigned) and later returning a
 *   token has recovered too.
 *
 * (A 401 challenge that the pipeline answers itself never opens an episode: the pipeline policy and zero-config
 * observation hold such a 401 back and drop it when the retry succeeds, so it is never reported.)
 *
 * Cost: `watching` is a plain field; 2xx answers cost one field read while nothing is open. With something open a
 * 2xx costs a scan of the (few) open hosts by comparing characters in place: no allocation unless the host matches.
 */
import { hostOf, tokenOfAuthorization } from "../catalog/resolve.js";
import { lookupIssuedToken } from "../registry/issuedTokens.js";
import type { Diagnosis, DiagnosisCode, DiagnosisIdentity } from "../diagnosis/types.js";
import { clientIdOf, decodeTokenClaims, type TokenClaims } from "../jwt/claims.js";
import { sharedSlot } from "../util/processState.js";
import { recordInternalFault } from "../util/safe.js";

/** One recovery, as logged (`[recovered]`), recorded as a span event and as a recovery-duration data point. */
export interface Recovery {
  /** "dependency": a service answers 2xx again after H2; "identity-endpoint": getToken works again after H5/H1. */
  kind: "dependency" | "identity-endpoint";
  hypothesis: Diagnosis["hypothesis"];
  code: DiagnosisCode;
  service?: string;
  /** The dependency's host (kind "dependency"). */
  host?: string;
  /** The status of the successful answer, when known. */
  status?: number;
  identity?: DiagnosisIdentity;
  /** Epoch ms of the first failure of this episode. */
  firstFailureAt: number;
  /** Epoch ms of the last failure before the recovery. */
  lastFailureAt: number;
  /** Epoch ms of the success. */
  recoveredAt: number;
  /** Failures reported in the episode (folded log repeats included). */
  failures: number;
}

/** Hypotheses whose downstream failure opens a dependency episode. */
export const DEPENDENCY_RECOVERY_HYPOTHESES: ReadonlySet<string> = new Set(["H2"]);
/** Hypotheses whose getToken failure opens an identity-endpoint episode. */
export const TOKEN_RECOVERY_HYPOTHESES: ReadonlySet<string> = new Set(["H5", "H1"]);

/** Tunables (tests shorten them). */
export const recoveryTiming = {
  /** An open episode with no failure for this long is forgotten (no recovery line for it). */
  maxOpenMs: 24 * 60 * 60_000,
};

/**
 * Hosts with an open dependency episode, across every credential (reference counts). Zero-config
 * observation checks `size` first and ignores 2xx answers while it is 0.
 */
export const watchedHosts = sharedSlot("recoveryWatchedHosts.v1", () => new Map<string, number>());

function watch(host: string): void {
  watchedHosts.set(host, (watchedHosts.get(host) ?? 0) + 1);
}

function unwatch(host: string): void {
  const count = (watchedHosts.get(host) ?? 0) - 1;
  if (count <= 0) watchedHosts.delete(host);
  else watchedHosts.set(host, count);
}

interface OpenEpisode {
  hypothesis: Diagnosis["hypothesis"];
  code: DiagnosisCode;
  service?: string;
  host?: string;
  identityKey: string;
  identity?: DiagnosisIdentity;
  firstAt: number;
  lastAt: number;
  count: number;
}

const MAX_OPEN = 64;

/**
 * A credential collected with episodes still open releases its hosts (else zero-config observation would keep
 * looking at 2xx answers for them).
 */
const releaseOnCollect = new FinalizationRegistry<Map<string, Map<string, OpenEpisode>>>((episodes) => {
  for (const [host, byIdentity] of episodes) for (let i = 0; i < byIdentity.size; i++) unwatch(host);
});

/** One credential's open episodes. */
export class RecoveryTracker {
  /** True while a dependency episode is open: the one check a 2xx pays otherwise. */
  watching = false;
  /**
   * The open getToken episode (H5/H1, also an H5 answered with the last good token): the getToken success path
   * reads only this field.
   */
  tokenEpisode: OpenEpisode | undefined;
  /** host → identity key → episode. */
  private readonly episodes = new Map<string, Map<string, OpenEpisode>>();
  private episodeCount = 0;
  /** Forgets stale episodes (no failure for `maxOpenMs`); unref'd, and holds the tracker only weakly. */
  private pruneTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly now: () => number = Date.now) {
    releaseOnCollect.register(this, this.episodes, this);
  }

  /** A reported diagnosis: opens (or extends) an episode when it is one recovery is tracked for. */
  noteFailure(diagnosis: Diagnosis, source: string, url: string | undefined): void {
    const at = this.now();
    if (source === "getToken" || source === "last-good-token") {
      if (!TOKEN_RECOVERY_HYPOTHESES.has(diagnosis.hypothesis)) return;
      const open = this.tokenEpisode;
      if (open !== undefined) {
        open.lastAt = at;
        open.count++;
        return;
      }
      this.tokenEpisode = episodeOf(diagnosis, "", undefined, at);
      return;
    }
    if (url === undefined || !DEPENDENCY_RECOVERY_HYPOTHESES.has(diagnosis.hypothesis)) return;
    const host = hostOf(url);
    if (host === undefined) return;
    const identityKey = (diagnosis.identity?.objectId ?? diagnosis.identity?.clientId ?? "").toLowerCase();
    let byIdentity = this.episodes.get(host);
    const open = byIdentity?.get(identityKey);
    if (open !== undefined) {
      open.lastAt = at;
      open.count++;
      return;
    }
    if (this.episodeCount >= MAX_OPEN) this.dropOldestEpisode();
    if (byIdentity === undefined) {
      byIdentity = new Map();
      this.episodes.set(host, byIdentity);
    }
    byIdentity.set(identityKey, episodeOf(diagnosis, identityKey, host, at));
    this.episodeCount++;
    watch(host);
    this.watching = true;
    this.schedulePrune();
  }

  /**
   * A 2xx answer from `url`: closes the host's episode for the identity of the request's token. `authorization`:
   * a headers object with `get`, an `Authorization` value or a raw token; read only when the host has an episode.
   */
  noteSuccess(url: string, authorization?: unknown, status?: number): Recovery | undefined {
    if (!this.watching || typeof url !== "string") return undefined;
    const start = url.indexOf("://");
    if (start === -1) return undefined;
    const hostStart = start + 3;
    let hostEnd = hostStart;
    while (hostEnd < url.length) {
      const c = url.charCodeAt(hostEnd);
      if (c === 47 /* / */ || c === 63 /* ? */ || c === 35 /* # */) break;
      hostEnd++;
    }
    let recovery: Recovery | undefined;
    if (this.episodeCount > 0) {
      for (const [host, byIdentity] of this.episodes) {
        if (!sameHost(url, hostStart, hostEnd, host)) continue;
        const at = this.now();
        let episode: OpenEpisode | undefined;
        for (const key of identityKeysOf(authorization)) {
          episode = byIdentity.get(key);
          if (episode !== undefined) break;
        }
        episode ??= byIdentity.get("");
        if (episode === undefined) break;
        byIdentity.delete(episode.identityKey);
        if (byIdentity.size === 0) this.episodes.delete(host);
        this.episodeCount--;
        unwatch(host);
        if (at - episode.lastAt <= recoveryTiming.maxOpenMs) recovery = recoveryOf(episode, "dependency", at, status);
        break;
      }
    }
    this.updateWatching();
    return recovery;
  }

  /** getToken returned a token: closes the open H5/H1 episode, if any. */
  noteTokenSuccess(): Recovery | undefined {
    const episode = this.tokenEpisode;
    if (episode === undefined) return undefined;
    this.tokenEpisode = undefined;
    const at = this.now();
    if (at - episode.lastAt > recoveryTiming.maxOpenMs) return undefined;
    return recoveryOf(episode, "identity-endpoint", at, undefined);
  }

  /** Open episodes (for tests and self-checks). */
  get openCount(): { episodes: number; token: boolean } {
    return { episodes: this.episodeCount, token: this.tokenEpisode !== undefined };
  }

  /** Forgets episodes with no failure for `recoveryTiming.maxOpenMs` (no recovery line for them). */
  prune(): void {
    const now = this.now();
    for (const [host, byIdentity] of this.episodes) {
      for (const [key, episode] of byIdentity) {
        if (now - episode.lastAt <= recoveryTiming.maxOpenMs) continue;
        byIdentity.delete(key);
        this.episodeCount--;
        unwatch(host);
      }
      if (byIdentity.size === 0) this.episodes.delete(host);
    }
    this.updateWatching();
  }

  /** Forgets everything (and releases the hosts it watched). */
  clear(): void {
    if (this.pruneTimer !== undefined) clearTimeout(this.pruneTimer);
    this.pruneTimer = undefined;
    for (const [host, byIdentity] of this.episodes) for (let i = 0; i < byIdentity.size; i++) unwatch(host);
    this.episodes.clear();
    this.episodeCount = 0;
    this.tokenEpisode = undefined;
    this.watching = false;
  }

  private dropOldestEpisode(): void {
    let oldest: OpenEpisode | undefined;
    for (const byIdentity of this.episodes.values()) {
      for (const episode of byIdentity.values()) if (oldest === undefined || episode.lastAt < oldest.lastAt) oldest = episode;
    }
    if (oldest?.host === undefined) return;
    const byIdentity = this.episodes.get(oldest.host);
    byIdentity?.delete(oldest.identityKey);
    if (byIdentity?.size === 0) this.episodes.delete(oldest.host);
    this.episodeCount--;
    unwatch(oldest.host);
  }

  private updateWatching(): void {
    this.watching = this.episodeCount > 0;
  }

  private schedulePrune(): void {
    if (this.pruneTimer !== undefined) return;
    const self = new WeakRef(this);
    this.pruneTimer = setTimeout(
      () => {
        const tracker = self.deref();
        if (tracker === undefined) return;
        tracker.pruneTimer = undefined;
        tracker.prune();
        if (tracker.episodeCount > 0) tracker.schedulePrune();
      },
      Math.min(recoveryTiming.maxOpenMs, 2 ** 31 - 1),
    );
    this.pruneTimer.unref?.();
  }
}

function episodeOf(diagnosis: Diagnosis, identityKey: string, host: string | undefined, at: number): OpenEpisode {
  const episode: OpenEpisode = { hypothesis: diagnosis.hypothesis, code: diagnosis.code, identityKey, firstAt: at, lastAt: at, count: 1 };
  if (diagnosis.service !== undefined) episode.service = diagnosis.service;
  if (host !== undefined) episode.host = host;
  if (diagnosis.identity !== undefined) {
    const identity: DiagnosisIdentity = { kind: diagnosis.identity.kind };
    if (diagnosis.identity.objectId !== undefined) identity.objectId = diagnosis.identity.objectId;
    if (diagnosis.identity.clientId !== undefined) identity.clientId = diagnosis.identity.clientId;
    if (diagnosis.identity.tenantId !== undefined) identity.tenantId = diagnosis.identity.tenantId;
    episode.identity = identity;
  }
  return episode;
}

function recoveryOf(episode: OpenEpisode, kind: Recovery["kind"], at: number, status: number | undefined): Recovery {
  const recovery: Recovery = {
    kind,
    hypothesis: episode.hypothesis,
    code: episode.code,
    firstFailureAt: episode.firstAt,
    lastFailureAt: episode.lastAt,
    recoveredAt: at,
    failures: episode.count,
  };
  if (episode.service !== undefined) recovery.service = episode.service;
  if (episode.host !== undefined) recovery.host = episode.host;
  if (episode.identity !== undefined) recovery.identity = episode.identity;
  if (status !== undefined) recovery.status = status;
  return recovery;
}

/** Whether `url[start, end)` is `host` (lower case), ASCII case-insensitively, without allocating. */
function sameHost(url: string, start: number, end: number, host: string): boolean {
  // Skip user info ("user@host").
  const at = url.lastIndexOf("@", end - 1);
  if (at >= start) start = at + 1;
  if (end - start !== host.length) return false;
  for (let i = 0; i < host.length; i++) {
    let c = url.charCodeAt(start + i);
    if (c >= 65 && c <= 90) c += 32;
    if (c !== host.charCodeAt(i)) return false;
  }
  return true;
}

/** Identity keys of the token a request carried: object id first, then client id (lower case). */
function identityKeysOf(authorization: unknown): string[] {
  try {
    let value: unknown = authorization;
    if (value !== null && typeof value === "object" && typeof (value as { get?: unknown }).get === "function") {
      value = (value as { get(name: string): unknown }).get("authorization");
    }
    if (typeof value !== "string" || value.length === 0) return [];
    const token = tokenOfAuthorization(value) ?? value;
    const claims: TokenClaims | undefined = lookupIssuedToken(token)?.claims ?? decodeTokenClaims(token);
    if (claims === undefined) return [];
    const keys: string[] = [];
    if (claims.oid !== undefined) keys.push(claims.oid.toLowerCase());
    const clientId = clientIdOf(claims);
    if (clientId !== undefined) keys.push(clientId.toLowerCase());
    return keys;
  } catch (error) {
    recordInternalFault(error);
    return [];
  }
}
