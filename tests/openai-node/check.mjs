// OpenAI's official Node SDK against a running `purellama serve`: every call a client makes most, with its
// result printed as one JSON object for tests/PureLlama.Server.Tests/OpenAiNodeTests.cs to compare with
// PureLlama's own greedy generation. Usage: node check.mjs BASE_URL API_KEY MODEL ADAPTER QUESTION MAX_TOKENS
import OpenAI from 'openai';

const [baseURL, apiKey, model, adapter, question, maxTokensText] = process.argv.slice(2);
const maxTokens = Number(maxTokensText);
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 120_000 });
const messages = [{ role: 'user', content: question }];
const out = {};

// Records an API error's status and OpenAI error fields (what an application branches on).
async function failure(call) {
  try {
    await call();
    return { status: 0 };
  } catch (e) {
    if (!(e instanceof OpenAI.APIError)) throw e;
    return { status: e.status ?? 0, type: e.type ?? null, code: e.code ?? null, param: e.param ?? null, message: e.message };
  }
}

out.models = (await client.models.list()).data.map(m => ({ id: m.id, object: m.object, owned_by: m.owned_by }));

const chat = await client.chat.completions.create({ model, messages, temperature: 0, max_tokens: maxTokens });
out.chat = {
  text: chat.choices[0].message.content,
  role: chat.choices[0].message.role,
  finish_reason: chat.choices[0].finish_reason,
  usage: chat.usage,
  object: chat.object,
};

const stream = await client.chat.completions.create({
  model, messages, temperature: 0, max_completion_tokens: maxTokens, stream: true, stream_options: { include_usage: true },
});
let streamed = '', chunks = 0, streamFinish = null, streamUsage = null;
for await (const chunk of stream) {
  chunks++;
  if (chunk.usage) streamUsage = chunk.usage;
  for (const choice of chunk.choices) {
    streamed += choice.delta?.content ?? '';
    streamFinish ??= choice.finish_reason;
  }
}
out.stream = { text: streamed, chunks, finish_reason: streamFinish, usage: streamUsage };

// The SDK's stream helper accumulates the deltas itself.
const runner = client.chat.completions.stream({ model, messages, temperature: 0, max_tokens: maxTokens });
out.streamHelper = (await runner.finalChatCompletion()).choices[0].message.content;

const withLogprobs = await client.chat.completions.create({ model, messages, temperature: 0, max_tokens: 4, logprobs: true, top_logprobs: 3 });
out.logprobs = withLogprobs.choices[0].logprobs.content.map(t => ({ token: t.token, logprob: t.logprob, top: t.top_logprobs.length }));

const adapted = await client.chat.completions.create({ model: adapter, messages, temperature: 0, max_tokens: maxTokens });
out.adapter = { text: adapted.choices[0].message.content, model: adapted.model };

const completion = await client.completions.create({ model, prompt: 'In the beginning', temperature: 0, max_tokens: maxTokens });
out.completion = { text: completion.choices[0].text, finish_reason: completion.choices[0].finish_reason, usage: completion.usage };

out.errors = {
  unknownModel: await failure(() => client.chat.completions.create({ model: 'no-such-model', messages })),
  badParameter: await failure(() => client.chat.completions.create({ model, messages, temperature: 7 })),
  noMessages: await failure(() => client.chat.completions.create({ model, messages: [] })),
  tooLong: await failure(() => client.chat.completions.create({ model, messages, max_tokens: 1_000_000 })),
  wrongKey: await failure(() => new OpenAI({ baseURL, apiKey: 'wrong', maxRetries: 0 }).models.list()),
};

process.stdout.write(JSON.stringify(out));
