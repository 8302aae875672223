#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz harnesses (tests/fuzz/corpus/<name>/).

Small valid inputs of every kind each harness takes, made here from the
fixtures (../shared/fixtures) and by hand, so the fuzzer starts from inputs
that reach deep into the parsers. Run again only to change the seeds:
    python3 tests/fuzz/make_seeds.py [path/to/edgerun]   # the binary converts the .erm seeds
"""
import json
import os
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "..", "..", "..", "shared", "fixtures")
OUT = os.path.join(HERE, "corpus")


def put(harness, name, data):
    d = os.path.join(OUT, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def parts(first, rest):
    """The harnesses' two-part input: two bytes of length, then both texts."""
    a, b = first.encode(), rest.encode()
    return struct.pack("<H", len(a)) + a + b


# ---- GGUF -------------------------------------------------------------------------------
def gguf_string(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def gguf(kv, tensors):
    """kv: [(key, type, value)], type one of u32 f32 str bool arr_str arr_f32 arr_i32;
    tensors: [(name, shape, ggml type, bytes)]."""
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kv))
    for key, t, v in kv:
        out += gguf_string(key)
        if t == "u32": out += struct.pack("<II", 4, v)
        elif t == "f32": out += struct.pack("<If", 6, v)
        elif t == "bool": out += struct.pack("<IB", 7, int(v))
        elif t == "str": out += struct.pack("<I", 8) + gguf_string(v)
        elif t == "arr_str": out += struct.pack("<IIQ", 9, 8, len(v)) + b"".join(gguf_string(s) for s in v)
        elif t == "arr_f32": out += struct.pack("<IIQ", 9, 6, len(v)) + struct.pack(f"<{len(v)}f", *v)
        elif t == "arr_i32": out += struct.pack("<IIQ", 9, 5, len(v)) + struct.pack(f"<{len(v)}i", *v)
    offset = 0
    for name, shape, ty, data in tensors:
        out += gguf_string(name) + struct.pack("<I", len(shape)) + b"".join(struct.pack("<Q", d) for d in shape)
        out += struct.pack("<IQ", ty, offset)
        offset += (len(data) + 31) // 32 * 32
    out += b"\0" * ((32 - len(out) % 32) % 32)
    for _, _, _, data in tensors:
        out += data + b"\0" * ((32 - len(data) % 32) % 32)
    return out


def floats(n, seed):
    x = seed
    vals = []
    for _ in range(n):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        vals.append((x / 0x7FFFFFFF - 0.5) * 0.5)
    return vals


def f32(n, seed):
    return struct.pack(f"<{n}f", *floats(n, seed))


def f16(n, seed):
    return struct.pack(f"<{n}e", *floats(n, seed))


def tiny_model(arch, tokenizer_kv, n_vocab, wtype):
    e, ff, heads, kv_heads, hd = 8, 8, 2, 1, 4
    pack, ty = (f32, 0) if wtype == "f32" else (f16, 1)
    kv = [("general.architecture", "str", arch), ("general.name", "str", "tiny " + arch),
          (arch + ".embedding_length", "u32", e), (arch + ".block_count", "u32", 1),
          (arch + ".feed_forward_length", "u32", ff), (arch + ".attention.head_count", "u32", heads),
          (arch + ".attention.head_count_kv", "u32", kv_heads), (arch + ".context_length", "u32", 64),
          (arch + ".rope.dimension_count", "u32", hd), (arch + ".attention.layer_norm_rms_epsilon", "f32", 1e-5),
          (arch + ".rope.freq_base", "f32", 10000.0)] + tokenizer_kv
    t = [("token_embd.weight", [e, n_vocab], ty, pack(e * n_vocab, 1)),
         ("output_norm.weight", [e], 0, f32(e, 2)),
         ("blk.0.attn_norm.weight", [e], 0, f32(e, 3)),
         ("blk.0.attn_q.weight", [e, heads * hd], ty, pack(e * heads * hd, 4)),
         ("blk.0.attn_k.weight", [e, kv_heads * hd], ty, pack(e * kv_heads * hd, 5)),
         ("blk.0.attn_v.weight", [e, kv_heads * hd], ty, pack(e * kv_heads * hd, 6)),
         ("blk.0.attn_output.weight", [heads * hd, e], ty, pack(e * heads * hd, 7)),
         ("blk.0.ffn_norm.weight", [e], 0, f32(e, 8)),
         ("blk.0.ffn_gate.weight", [e, ff], ty, pack(e * ff, 9)),
         ("blk.0.ffn_up.weight", [e, ff], ty, pack(e * ff, 10)),
         ("blk.0.ffn_down.weight", [ff, e], ty, pack(e * ff, 11))]
    if arch == "qwen3moe":  # the MLP as 4 experts of width 8, 2 chosen; q/k norms
        n_exp = 4
        kv += [(arch + ".expert_count", "u32", n_exp), (arch + ".expert_used_count", "u32", 2),
               (arch + ".expert_feed_forward_length", "u32", ff)]
        t = [x for x in t if not x[0].startswith("blk.0.ffn_") or x[0] == "blk.0.ffn_norm.weight"]
        t += [("blk.0.attn_q_norm.weight", [hd], 0, f32(hd, 15)), ("blk.0.attn_k_norm.weight", [hd], 0, f32(hd, 16)),
              ("blk.0.ffn_gate_inp.weight", [e, n_exp], 0, f32(e * n_exp, 17)),
              ("blk.0.ffn_gate_exps.weight", [e, ff, n_exp], ty, pack(e * ff * n_exp, 18)),
              ("blk.0.ffn_up_exps.weight", [e, ff, n_exp], ty, pack(e * ff * n_exp, 19)),
              ("blk.0.ffn_down_exps.weight", [ff, e, n_exp], ty, pack(e * ff * n_exp, 20))]
    if arch == "qwen2":
        t += [("blk.0.attn_q.bias", [heads * hd], 0, f32(heads * hd, 12)),
              ("blk.0.attn_k.bias", [kv_heads * hd], 0, f32(kv_heads * hd, 13)),
              ("blk.0.attn_v.bias", [kv_heads * hd], 0, f32(kv_heads * hd, 14))]
    return gguf(kv, t)


TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
            "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
spm_tokens = ["<unk>", "<s>", "</s>", "\u2581", "a", "b", "\u2581a", "ab", "\u2581ab", "<0x0A>", "<0x41>", "<0xFF>",
              "H", "e", "l", "o", "\u2581H", "ll", "He", "<|im_end|>"]
spm = [("tokenizer.ggml.model", "str", "llama"), ("tokenizer.ggml.tokens", "arr_str", spm_tokens),
       ("tokenizer.ggml.scores", "arr_f32", [-float(i) for i in range(len(spm_tokens))]),
       ("tokenizer.ggml.token_type", "arr_i32", [2, 3, 3] + [1] * 6 + [6, 6, 6] + [1] * 7 + [3]),
       ("tokenizer.ggml.bos_token_id", "u32", 1), ("tokenizer.ggml.eos_token_id", "u32", 2),
       ("tokenizer.ggml.add_bos_token", "bool", True), ("tokenizer.chat_template", "str", TEMPLATE)]
bpe_tokens = ["H", "e", "l", "o", "\u0120", "W", "r", "d", "He", "ll", "Hell", "\u0120W", "or", "<|im_end|>", "<|endoftext|>", "!"]
bpe = [("tokenizer.ggml.model", "str", "gpt2"), ("tokenizer.ggml.pre", "str", "qwen2"),
       ("tokenizer.ggml.tokens", "arr_str", bpe_tokens),
       ("tokenizer.ggml.token_type", "arr_i32", [1] * 13 + [3, 3, 1]),
       ("tokenizer.ggml.merges", "arr_str", ["H e", "l l", "He ll", "\u0120 W", "o r"]),
       ("tokenizer.ggml.eos_token_id", "u32", 14), ("tokenizer.chat_template", "str", TEMPLATE)]
put("gguf", "llama-spm-f32.gguf", tiny_model("llama", spm, len(spm_tokens), "f32"))
put("gguf", "qwen2-bpe-f16.gguf", tiny_model("qwen2", bpe, len(bpe_tokens), "f16"))
put("gguf", "qwen3moe-bpe-f16.gguf", tiny_model("qwen3moe", bpe, len(bpe_tokens), "f16"))

# ---- .erm: the GGUF seeds converted -------------------------------------------------
if len(sys.argv) > 1:
    for name in ("llama-spm-f32", "qwen2-bpe-f16", "qwen3moe-bpe-f16"):
        src = os.path.join(OUT, "gguf", name + ".gguf")
        dst = os.path.join(OUT, "erm", name + ".erm")
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        subprocess.run([sys.argv[1], "convert", src, "-o", dst, "--force"], check=True, capture_output=True)

# ---- safetensors ---------------------------------------------------------------------
header = json.dumps({"__metadata__": {"format": "pt"},
                     "a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
                     "b": {"dtype": "BF16", "shape": [4], "data_offsets": [16, 24]}}).encode()
put("safetensors", "two-tensors.safetensors", struct.pack("<Q", len(header)) + header + f32(4, 1) + b"\x80\x3f" * 4)

# ---- Hugging Face folders: two tiny ones the harness fills in (hf_base/), and
# seeds for the JSON files it takes from the input. The first byte picks the
# file (% 4) and the folder (/ 4 % 2: a dense llama, a qwen3_moe).
def safetensors(tensors):
    """tensors: [(name, shape, seed)], all F32."""
    header, data = {}, b""
    for name, shape, seed in tensors:
        n = 1
        for d in shape:
            n *= d
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [len(data), len(data) + 4 * n]}
        data += f32(n, seed)
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data


def hf_base(name, moe):
    e, hd, heads, kv_heads, ff, vocab = 8, 4, 2, 1, 8, 16
    cfg = {"model_type": "qwen3_moe" if moe else "llama", "hidden_size": e, "num_hidden_layers": 1,
           "num_attention_heads": heads, "num_key_value_heads": kv_heads, "head_dim": hd, "intermediate_size": ff,
           "vocab_size": vocab, "max_position_embeddings": 64, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
           "tie_word_embeddings": True, "eos_token_id": 11}
    L = "model.layers.0."
    t = [("model.embed_tokens.weight", [vocab, e], 1), ("model.norm.weight", [e], 2),
         (L + "input_layernorm.weight", [e], 3), (L + "self_attn.q_proj.weight", [heads * hd, e], 4),
         (L + "self_attn.k_proj.weight", [kv_heads * hd, e], 5), (L + "self_attn.v_proj.weight", [kv_heads * hd, e], 6),
         (L + "self_attn.o_proj.weight", [e, heads * hd], 7), (L + "post_attention_layernorm.weight", [e], 8)]
    if moe:
        cfg.update(num_experts=4, num_experts_per_tok=2, moe_intermediate_size=ff, norm_topk_prob=True,
                   decoder_sparse_step=1, mlp_only_layers=[])
        t += [(L + "self_attn.q_norm.weight", [hd], 9), (L + "self_attn.k_norm.weight", [hd], 10),
              (L + "mlp.gate.weight", [4, e], 11)]
        for x in range(4):
            t += [(L + "mlp.experts.%d.gate_proj.weight" % x, [ff, e], 12 + x),
                  (L + "mlp.experts.%d.up_proj.weight" % x, [ff, e], 16 + x),
                  (L + "mlp.experts.%d.down_proj.weight" % x, [e, ff], 20 + x)]
    else:
        t += [(L + "mlp.gate_proj.weight", [ff, e], 9), (L + "mlp.up_proj.weight", [ff, e], 10),
              (L + "mlp.down_proj.weight", [e, ff], 11)]
    d = os.path.join(HERE, "hf_base", name)
    os.makedirs(d, exist_ok=True)
    files = {"config.json": json.dumps(cfg, indent=1),
             "generation_config.json": json.dumps({"eos_token_id": [11], "do_sample": True, "temperature": 0.6,
                                                   "top_p": 0.95, "top_k": 20}),
             "tokenizer_config.json": json.dumps({"eos_token": "<|im_end|>", "add_bos_token": False,
                                                  "added_tokens_decoder": {"11": {"content": "<|im_end|>", "special": True}},
                                                  "chat_template": TEMPLATE}),
             "tokenizer.json": json.dumps(byte_level)}
    for f, text in files.items():
        with open(os.path.join(d, f), "w") as out:
            out.write(text)
    with open(os.path.join(d, "model.safetensors"), "wb") as out:
        out.write(safetensors(t))
    return cfg, files


# ---- tokenizer.json (+ tokenizer_config.json) ------------------------------------------
byte_level = {
    "added_tokens": [{"id": 11, "content": "<|im_end|>", "special": True}],
    "normalizer": {"type": "Sequence", "normalizers": [{"type": "NFC"}]},
    "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": "\\p{N}{1,3}"}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "use_regex": True}]},
    "post_processor": {"type": "ByteLevel"}, "decoder": {"type": "ByteLevel"},
    "model": {"type": "BPE", "vocab": {"H": 0, "e": 1, "l": 2, "o": 3, "He": 4, "ll": 5, "Hell": 6, "\u0120": 7,
                                       "1": 8, "2": 9, "!": 10},
              "merges": ["H e", "l l", "He ll"]}}
sentencepiece = {
    "added_tokens": [{"id": 0, "content": "<unk>", "special": True}, {"id": 1, "content": "<s>", "special": True},
                     {"id": 2, "content": "</s>", "special": True}],
    "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u2581"},
                                                       {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
    "pre_tokenizer": None,
    "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                                                {"Sequence": {"id": "A", "type_id": 0}}]},
    "decoder": {"type": "Sequence", "decoders": []},
    "model": {"type": "BPE", "byte_fallback": True, "unk_token": "<unk>",
              "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2, "<0x41>": 3, "<0xC3>": 4, "\u2581": 5, "H": 6, "e": 7, "\u2581H": 8,
                        "He": 9},
              "merges": [["\u2581", "H"], ["H", "e"]]}}
config = json.dumps({"bos_token": "<s>", "eos_token": {"content": "</s>"}, "add_bos_token": True,
                     "chat_template": "{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}"})
put("tokenizer_json", "byte-level.bin", parts("", json.dumps(byte_level)))
put("tokenizer_json", "sentencepiece-with-config.bin", parts(config, json.dumps(sentencepiece)))

# ---- tokenize: the first byte picks the vocabulary and whether special tokens are added --
texts = ["Hello world", "  leading spaces and 12345 digits\n\ttabs", "na\u00efve caf\u00e9 \u6771\u4eac \U0001F680",
         "<|im_start|>user\nhi<|im_end|>", "don't you'll I'm", "\xff\xfe broken \xc3 utf8"]
for i, t in enumerate(texts):
    data = t.encode("utf-8", "surrogateescape") if "\xff" not in t else t.encode("latin-1")
    put("tokenize", f"text{i}.bin", bytes([i % 3 | (4 if i % 2 else 0)]) + data)

# ---- jinja: a real chat template and the messages it renders ---------------------------
messages = json.dumps([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                       {"role": "assistant", "content": "<think>hmm</think>Hello"}, {"role": "user", "content": "Again"}])
for name in ("qwen3", "llama3", "deepseek_v3", "mistral"):
    cfg = json.load(open(os.path.join(FIX, "tokenizers", name, "tokenizer_config.json")))
    tmpl = cfg.get("chat_template")
    if isinstance(tmpl, str):
        put("jinja", name + ".bin", parts(tmpl, messages))
put("jinja", "deepseek_r1_distill.bin",
    parts(open(os.path.join(FIX, "chat_templates", "deepseek_r1_distill", "chat_template.jinja")).read(), messages))
put("jinja", "features.bin", parts(
    "{% set ns = namespace(n=0) %}{% macro f(x) %}[{{ x | upper }}]{% endmacro %}"
    "{% for m in messages if m.role != 'system' %}{% set ns.n = ns.n + 1 %}{{ f(m.content) }}"
    "{{ loop.index }}/{{ loop.length }}{% if not loop.last %}, {% endif %}{% endfor %}"
    "{{ ns.n }} {{ messages | tojson }} {{ 'a,b'.split(',') | join('-') }} {{ (7 // 2) ~ (7 % 3) }}"
    "{{ messages[0]['content'][1:3] }}{% if x is defined %}{{ x }}{% elif 3 in [1, 2, 3] %}in{% else %}no{% endif %}",
    messages))

# ---- server requests: the first byte picks chat (odd) or completion (even) -------------
put("server_request", "chat.json", b"\x01" + json.dumps({
    "model": "x", "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": [{"type": "text", "text": "hi"}]}],
    "max_tokens": 16, "temperature": 0.7, "top_p": 0.9, "seed": 3, "stop": ["\n\n", "END"], "stream": True,
    "stream_options": {"include_usage": True}, "presence_penalty": 0.5, "frequency_penalty": 0.1}).encode())
put("server_request", "completion.json", b"\x00" + json.dumps({
    "model": "x", "prompt": "Once upon a time", "max_tokens": 8, "temperature": 0, "stop": "."}).encode())
print("seeds written to", OUT)

# ---- the hf_folder seeds, from the two base folders ---------------------------------------
for base, (name, moe) in enumerate([("llama", False), ("qwen3moe", True)]):
    cfg, files = hf_base(name, moe)
    for i, f in enumerate(["config.json", "generation_config.json", None, "tokenizer_config.json"]):
        if f:
            put("hf_folder", "%s-%s" % (name, f), bytes([base * 4 + i]) + files[f].encode())
    put("hf_folder", name + "-index.json", bytes([base * 4 + 2]) + json.dumps(
        {"metadata": {"total_size": 1}, "weight_map": {"model.embed_tokens.weight": "model.safetensors"}}).encode())
put("hf_folder", "llama-config-rope-scaling.json", bytes([0]) + json.dumps(dict(
    json.load(open(os.path.join(HERE, "hf_base", "llama", "config.json"))),
    rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                  "original_max_position_embeddings": 8192})).encode())
