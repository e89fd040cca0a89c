// The page's side of the playground module's string ABI (src/bindings.rs): UTF-8 text in, JSON text out.
// The module imports nothing, so it is instantiated with an empty import object.

export async function loadKernel(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`cannot load ${url}: HTTP ${response.status}`);
  const { instance } = await WebAssembly.instantiate(await response.arrayBuffer(), {});
  const k = instance.exports;
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  // One argument: a module buffer holding the text's bytes, as the (pointer, length) pair the exports take.
  const put = (text) => {
    const bytes = encoder.encode(text);
    const ptr = k.pg_alloc(bytes.length) >>> 0;
    new Uint8Array(k.memory.buffer, ptr, bytes.length).set(bytes);
    return [ptr, bytes.length];
  };
  // The answer a call left in the result buffer (read after the call: memory may have grown during it).
  const answer = (len) => decoder.decode(new Uint8Array(k.memory.buffer, k.pg_result_ptr() >>> 0, len >>> 0));
  return {
    replay: (configJson, input, format) => answer(k.pg_replay(...put(configJson), ...put(input), ...put(format))),
    exportSettings: (configJson) => answer(k.pg_export(...put(configJson))),
    defaultConfig: () => answer(k.pg_defaults()),
    kernelVersion: () => answer(k.pg_version()),
  };
}
