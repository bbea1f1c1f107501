/** Shared pieces of the benchmarks: the turn text, an instant model, timing helpers. */
import { FakeListChatModel } from "@langchain/core/utils/testing";

/** About 560 characters per message, as in the storage issue's measurements (one sentence repeated: for token counts). */
export const TEXT = "The quick brown fox jumps over the lazy dog while the agent remembers everything. ".repeat(7);

/** Common English words: messages drawn from them compress about as prose does (a repeated sentence would flatter compression). */
const WORDS = (
  "the of and to a in is it you that he was for on are with as his they be at one have this from or had by hot word but what some we can out " +
  "other were all there when up use your how said an each she which do their time if will way about many then them write would like so these " +
  "her long make thing see him two has look more day could go come did number sound no most people my over know water than call first who may " +
  "down side been now find any new work part take get place made live where after back little only round man year came show every good me give " +
  "our under name very through just form sentence great think say help low line differ turn cause much mean before move right boy old too same " +
  "tell does set three want air well also play small end put home read hand port large spell add even land here must big high such follow act why " +
  "ask men change went light kind off need house picture try us again animal point mother world near build self earth father head stand own page " +
  "should country found answer school grow study still learn plant cover food sun four between state keep eye never last let thought city tree " +
  "cross farm hard start might story saw far sea draw left late run while press close night real life few north open seem together next white " +
  "children begin got walk example ease paper group always music those both mark often letter until mile river car feet care second book carry " +
  "took science eat room friend began idea fish mountain stop once base hear horse cut sure watch color face wood main enough plain girl usual " +
  "young ready above ever red list though feel talk bird soon body dog family direct pose leave song measure door product black short numeral " +
  "class wind question happen complete ship area half rock order fire south problem piece told knew pass since top whole king space heard best " +
  "hour better during hundred five remember step early hold west ground interest reach fast verb sing listen six table travel less morning ten"
).split(" ");

/** A deterministic source of ~`length`-character messages of varied sentences (mulberry32). */
export function messageTexts(seed: number, length = 560): () => string {
  let state = seed >>> 0;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
  return () => {
    let text = "";
    while (text.length < length) {
      const words = Array.from({ length: 6 + Math.floor(random() * 12) }, () => WORDS[Math.floor(random() * WORDS.length)]!);
      const sentence = `${words.join(" ")}${random() < 0.2 ? "?" : "."}`;
      text += `${text === "" ? "" : " "}${sentence[0]!.toUpperCase()}${sentence.slice(1)}`;
    }
    return text.slice(0, length);
  };
}

/** Questions and answers of 560 characters each, all different: what is stored compresses as prose does. */
const VARIED = 64;
export const QUESTIONS = Array.from({ length: VARIED }, messageTexts(1));
export const ANSWERS = Array.from({ length: VARIED }, messageTexts(2));

/** The question of turn `turn` (from 1) of a conversation. */
export const question = (turn: number) => `${turn}: ${QUESTIONS[turn % VARIED]}`;

/** Bytes of the message text of `turns` turns: each question and its answer. */
export function conversationTextBytes(turns: number): number {
  let bytes = 0;
  for (let turn = 1; turn <= turns; turn += 1) bytes += Buffer.byteLength(question(turn)) + Buffer.byteLength(ANSWERS[(turn - 1) % VARIED]!);
  return bytes;
}

/** A model that answers at once, in process (the answers in turn): what a turn costs without any provider. */
export const instantModel = () => new FakeListChatModel({ responses: ANSWERS });

/** Milliseconds, rounded for printing. */
export const ms = (value: number) => Number(value.toFixed(2));

/** Mean of `values`. */
export const mean = (values: readonly number[]) => values.reduce((sum, value) => sum + value, 0) / Math.max(1, values.length);

/** The middle value (the mean of the two middle ones for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Runs `count` workers at once, each calling `work(worker)` until all are done; returns elapsed ms. */
export async function inParallel(count: number, work: (worker: number) => Promise<void>): Promise<number> {
  const started = performance.now();
  await Promise.all(Array.from({ length: count }, (_, worker) => work(worker)));
  return performance.now() - started;
}
