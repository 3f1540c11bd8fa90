// Greedy decoding with llama.cpp (node-llama-cpp's prebuilt CPU build) on a GGUF file, for PureLlama's tests.
// usage: node greedy.mjs MODEL.gguf PROMPT_IDS_JSON STEPS [LORA.gguf [SCALE]]
// prints one JSON object: {"generated_ids": [...], "stopped_at_eog": bool, "tokenized": [...], "bindings": "..."}
// The prompt is given as token ids (PureLlama's), so both engines start from the same tokens; "tokenized" is
// llama.cpp's own tokenization of the detokenized prompt, for comparison.
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const [modelPath, idsJson, stepsText, loraPath, loraScale] = process.argv.slice(2);
if (!modelPath || !idsJson || !stepsText) {
    console.error("usage: node greedy.mjs MODEL.gguf PROMPT_IDS_JSON STEPS [LORA.gguf [SCALE]]");
    process.exit(2);
}
const { getLlama, LlamaLogLevel } = await import(path.join(here, "node_modules", "node-llama-cpp", "dist", "index.js"));
const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, maxThreads: 1 });
const model = await llama.loadModel({ modelPath });
const lora = loraPath ? { adapters: [{ filePath: loraPath, scale: loraScale === undefined ? 1 : Number(loraScale) }] } : undefined;
const context = await model.createContext({ contextSize: 512, batchSize: 512, threads: 1, lora });
const sequence = context.getSequence();
const ids = JSON.parse(idsJson);
const steps = Number(stepsText);
const generated = [];
let stoppedAtEog = true;
for await (const token of sequence.evaluate(ids, { temperature: 0 })) {
    generated.push(token);
    if (generated.length >= steps) { stoppedAtEog = false; break; }
}
const tokenized = model.tokenize(model.detokenize(ids, true), true);
console.log(JSON.stringify({ generated_ids: generated, stopped_at_eog: stoppedAtEog && generated.length < steps, tokenized, bindings: llama.buildType }));
await context.dispose();
await model.dispose();
await llama.dispose();
