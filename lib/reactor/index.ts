/**
 * lib/reactor: the Reactor (run/stop, timers, readers and writers, calls from threads),
 * the descriptor roles transports implement, and the global default `reactor`.
 */
import { getDefaultReactor } from "./default";
import type { Reactor } from "./reactor";

export * from "./interfaces";
export * from "./errors";
export { Reactor } from "./reactor";
export type { ReactorOptions, RunOptions, RunMode } from "./reactor";
/** The calls callLater returns: the same class as Clock's (lib/defer/timers.ts). */
export { DelayedCall } from "../defer";
export type { TriggerHandle, TriggerPhase } from "./triggers";
export { ThreadCaller } from "./thread-caller";
export type { ThreadChannelHandle } from "./thread-caller";
export { getDefaultReactor, installReactor } from "./default";
export { react, coiterate, cooperate, getDefaultCooperator, deferToThread } from "./react";
export { ThreadPool, ThreadPoolStopped, DEFAULT_POOL_SIZE } from "./threadpool";
export { blockingCallFromThread } from "./threadpool-protocol";
export type { ThreadFunction } from "./threadpool-protocol";
export type { ReactOptions } from "./react";
/** Twisted's task.Clock: a deterministic IReactorTime for tests (from lib/defer). */
export { Clock } from "../defer";
export type { IReactorTime, IDelayedCall } from "../defer";

/** The global default reactor, made (best backend) on first access; same as getDefaultReactor(). */
export declare const reactor: Reactor;
Object.defineProperty(exports, "reactor", { enumerable: true, get: getDefaultReactor });
