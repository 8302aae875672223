// Chat templates and the Jinja engine.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "helpers.h"
#include "template/chat_template.h"
#include "template/jinja.h"
#include "tokenizer/tokenizer.h"

using namespace edgerun;
using ojson = nlohmann::ordered_json;

namespace {

std::string render(const std::string& tmpl, const std::string& vars_json = "{}") {
  jinja::Engine e(tmpl, "test");
  return e.render(jinja::Value::from_json(ojson::parse(vars_json)));
}

ojson special_tokens_of(const ojson& cfg) {
  ojson s = ojson::object();
  for (const char* k : {"bos_token", "eos_token", "pad_token", "unk_token"}) {
    if (!cfg.contains(k) || cfg[k].is_null()) continue;
    s[k] = cfg[k].is_string() ? cfg[k] : cfg[k]["content"];
  }
  return s;
}

}  // namespace

TEST_CASE("real chat templates render byte for byte and tokenize to the reference ids", "[template]") {
  for (const std::string name : {"qwen3", "deepseek_v3", "llama3"}) {
    const std::string dir = test::fixtures() + "/tokenizers/" + name;
    const ojson cfg = ojson::parse(test::read_file(dir + "/tokenizer_config.json"));
    ChatTemplate tmpl(cfg["chat_template"].get<std::string>(), dir + "/tokenizer_config.json");
    auto tok = Tokenizer::from_hf_file(dir + "/tokenizer.json");
    int n = 0;
    for (const std::string& line : test::read_lines(dir + "/chat_cases.jsonl")) {
      const ojson c = ojson::parse(line);
      ChatTemplateInputs in;
      in.messages = c["messages"];
      in.add_generation_prompt = c["add_generation_prompt"];
      const std::string got = tmpl.render(in, special_tokens_of(cfg));
      INFO(name << " / " << c["name"].get<std::string>() << "\nwant " << ojson(c["rendered"]).dump() << "\ngot  " << ojson(got).dump());
      CHECK(got == c["rendered"].get<std::string>());
      CHECK(tok->encode(got, false) == c["ids"].get<std::vector<int32_t>>());
      ++n;
    }
    CHECK(n >= 5);
  }
}

TEST_CASE("the DeepSeek-R1-Distill template renders byte for byte", "[template]") {
  const std::string dir = test::fixtures() + "/chat_templates/deepseek_r1_distill";
  ChatTemplate tmpl(test::read_file(dir + "/chat_template.jinja"), dir + "/chat_template.jinja");
  const ojson special = ojson::parse(test::read_file(dir + "/special_tokens.json"));
  int n = 0;
  for (const std::string& line : test::read_lines(dir + "/chat_cases.jsonl")) {
    const ojson c = ojson::parse(line);
    ChatTemplateInputs in;
    in.messages = c["messages"];
    in.add_generation_prompt = c["add_generation_prompt"];
    INFO(c["name"].get<std::string>());
    CHECK(tmpl.render(in, special) == c["rendered"].get<std::string>());
    ++n;
  }
  CHECK(n >= 5);
}

TEST_CASE("jinja: statements, loops and scoping", "[template]") {
  CHECK(render("{% for x in xs %}{{ loop.index }}:{{ x }}{% if not loop.last %},{% endif %}{% endfor %}", R"({"xs": ["a", "b", "c"]})") == "1:a,2:b,3:c");
  CHECK(render("{% for x in [] %}x{% else %}empty{% endfor %}") == "empty");
  CHECK(render("{% for x in [1,2,3,4] if x is even %}{{ x }}{% endfor %}") == "24");
  CHECK(render("{% for x in [1,2,3,4] %}{% if x == 3 %}{% break %}{% endif %}{{ x }}{% endfor %}") == "12");
  CHECK(render("{% for x in [1,2,3] %}{% if x == 2 %}{% continue %}{% endif %}{{ x }}{% endfor %}") == "13");
  CHECK(render("{% set x = 1 %}{% for i in [1] %}{% set x = 2 %}{% endfor %}{{ x }}") == "1");
  CHECK(render("{% set ns = namespace(x=1) %}{% for i in [1] %}{% set ns.x = 2 %}{% endfor %}{{ ns.x }}") == "2");
  CHECK(render("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", R"({"d": {"b": 1, "a": 2}})") == "b=1;a=2;");
  CHECK(render("{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('Bo') }} {{ greet('Al', punct='?') }}") == "Hi Bo! Hi Al?");
  CHECK(render("{% set block %}in{{ 1 + 1 }}{% endset %}[{{ block }}]") == "[in2]");
  CHECK(render("{% if a %}A{% elif b %}B{% else %}C{% endif %}", R"({"b": true})") == "B");
  CHECK(render("{{ 'y' if x else 'n' }}{{ 'z' if x }}", R"({"x": false})") == "n");
  CHECK(render("{% raw %}{{ not parsed }}{% endraw %}") == "{{ not parsed }}");
}

TEST_CASE("jinja: whitespace control as Hugging Face renders it", "[template]") {
  CHECK(render("a  {%- if true -%}  b  {%- endif -%}  c") == "abc");
  // trim_blocks: the newline after a block tag goes; lstrip_blocks: indentation before it goes.
  CHECK(render("{% if true %}\n  x\n    {% endif %}\ny") == "  x\ny");
  CHECK(render("{{ 1 }}\n{{ 2 }}") == "1\n2");
  CHECK(render("{# a comment #}\nz") == "z");
}

TEST_CASE("jinja: expressions, filters, tests and methods", "[template]") {
  CHECK(render("{{ 7 // 2 }} {{ 7 % 3 }} {{ 7 / 2 }} {{ 2 ** 3 }} {{ -7 // 2 }} {{ 1 + 2 * 3 }}") == "3 1 3.5 8 -4 7");
  CHECK(render("{{ 'a' ~ 1 ~ none }}") == "a1None");
  CHECK(render("{{ xs[::-1] }} {{ xs[1:] }} {{ xs[-1] }} {{ 'abc'[1:] }}", R"({"xs": [1, 2, 3]})") == "[3, 2, 1] [2, 3] 3 bc");
  CHECK(render("{{ xs | length }} {{ xs | join('-') }} {{ xs | first }} {{ xs | last }}", R"({"xs": [1, 2, 3]})") == "3 1-2-3 1 3");
  CHECK(render("{{ '  x  ' | trim }}|{{ 'Ab' | upper }}|{{ 'Ab' | lower }}|{{ undefined_thing | default('d') }}") == "x|AB|ab|d");
  CHECK(render("{{ x | tojson }}", R"({"x": {"a": [1, "é\n", null, true, 1.5]}})") == "{\"a\": [1, \"é\\n\", null, true, 1.5]}");
  CHECK(render("{{ x | tojson(indent=2) }}", R"({"x": {"a": [1]}})") == "{\n  \"a\": [\n    1\n  ]\n}");
  CHECK(render("{{ 'a,b,,c'.split(',') }} {{ 'x y  z'.split() }}") == "['a', 'b', '', 'c'] ['x', 'y', 'z']");
  CHECK(render("{{ '<think>r</think>\\n\\nans'.split('</think>')[-1].lstrip('\\n') }}") == "ans");
  CHECK(render("{{ 'hello'.startswith('he') }} {{ 'hello'.endswith(('x', 'lo')) }} {{ '\\nq\\n'.strip('\\n') }}") == "True True q");
  CHECK(render("{{ 'ab' in 'cabd' }} {{ 3 not in [1, 2] }} {{ 'k' in d }}", R"({"d": {"k": 1}})") == "True True True");
  CHECK(render("{{ x is defined }} {{ y is not defined }} {{ none is none }} {{ 's' is string }} {{ 3 is number }}") == "False True True True True");
  CHECK(render("{{ xs | selectattr('r', 'equalto', 'u') | map(attribute='c') | list }}", R"({"xs": [{"r": "u", "c": 1}, {"r": "a", "c": 2}]})") == "[1]");
  CHECK(render("{{ d.get('k', 0) }} {{ d.get('z', 5) }} {{ d['k'] }} {{ d.k }}", R"({"d": {"k": 1}})") == "1 5 1 1");
  CHECK(render("{{ range(3) | list }} {{ [3, 1, 2] | sort }}") == "[0, 1, 2] [1, 2, 3]");
  CHECK(render("{{ 1.0 }} {{ 0.1 + 0.2 }} {{ true }} {{ [1, 'a'] }}") == "1.0 0.30000000000000004 True [1, 'a']");
}

TEST_CASE("jinja: errors name the template, the line and the problem", "[template]") {
  REQUIRE_THROWS_WITH(render("line one\n{% if x %}no end"), Catch::Contains("test:") && Catch::Contains("missing '{% endif %}'"));
  REQUIRE_THROWS_WITH(render("{{ 1 + }}"), Catch::Contains("test:1") && Catch::Contains("unexpected end of expression"));
  REQUIRE_THROWS_WITH(render("\n\n{% frobnicate %}"), Catch::Contains("test:3") && Catch::Contains("unknown statement 'frobnicate'"));
  REQUIRE_THROWS_WITH(render("{{ 'abc }}"), Catch::Contains("unterminated string"));
  REQUIRE_THROWS_WITH(render("{{ x"), Catch::Contains("unclosed tag"));
  REQUIRE_THROWS_WITH(render("{{ raise_exception('Only user and assistant roles') }}"), Catch::Contains("Only user and assistant roles"));
  REQUIRE_THROWS_WITH(render("{{ x | nosuchfilter }}"), Catch::Contains("unknown filter 'nosuchfilter'"));
  REQUIRE_THROWS_WITH(render("{{ 1 + 'a' }}"), Catch::Contains("unsupported operand types for +: int and string"));
}

TEST_CASE("hostile templates end fast with an error naming the limit", "[template]") {
  auto fails = [](const std::string& tmpl, const std::string& why) {
    INFO(tmpl.substr(0, 80));
    CHECK_THROWS_WITH(render(tmpl), Catch::Contains(why));
  };
  fails("{% for i in range(10**12) %}x{% endfor %}", "more than 1000000 numbers");
  fails("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "steps (an endless loop?)");
  fails("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "endless recursion");
  fails("{{ 'a' * 10**9 }}", "larger than 64 MiB");
  fails("{% set ns = namespace(s='abcdefgh' * 1000000) %}{% for i in range(20) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}", "larger than 64 MiB");
  fails("{% for i in range(1000000) %}{{ 'x' * 100 }}{% endfor %}", "MiB");
  fails("{{ " + std::string(10000, '(') + "1" + std::string(10000, ')') + " }}", "nested deeper than 200");
  fails(std::string(10000 / 5, ' ') + [] {
    std::string t;
    for (int i = 0; i < 10000; ++i) t += "{% if true %}";
    return t;
  }(), "nested deeper than 200");
  fails("{{ 1" + [] {
    std::string t;
    for (int i = 0; i < 100000; ++i) t += " + 1";
    return t;
  }() + " }}", "more than 20000 parts");
  fails("{{ 99999999999999999999 }}", "the number 99999999999999999999 is too large");
  fails("{{ messages[]['content'] }}", "an empty subscript '[]'");  // found by fuzz_jinja: a null operand
  // Found by fuzz_jinja: a filter that is a method called an empty function on a value without it.
  fails("{{ 'abc' | items }}", "filter 'items' does not apply to string");
  fails("{{ 3 | dictsort | items }}", "filter 'items' does not apply to");
  CHECK(render("{{ undefined_thing | items | list | length }}") == "0");
  fails("{{ -9223372036854775807 - 1 - 1 }}", "integer overflow");
  fails("{{ 4440444 ** 444 }}", "integer overflow in **");  // found by fuzz_jinja: an infinite double cast to an integer
  CHECK(render("{{ 3 ** 39 }} {{ (-2) ** 63 }} {{ 2 ** 0 }} {{ 0 ** 5 }} {{ 1 ** 100000000000 }}") ==
        "4052555153018976267 -9223372036854775808 1 0 1");
  fails("{{ (-9223372036854775807 - 1) // -1 }}", "integer overflow");
  CHECK(render("{{ (-9223372036854775807 - 1) % -1 }}") == "0");
  fails("{% set ns = namespace(a=1) %}{% set ns.me = ns %}{{ ns | tojson }}", "would hold itself");
  fails("{% set ns = namespace(a=1) %}{% set ns.l = [1, [ns]] %}{{ ns }}", "would hold itself");
  // Deep but not cyclic: walking it stops at the depth limit.
  fails("{% set ns = namespace(n=none) %}{% for i in range(300) %}{% set ns.n = namespace(n=ns.n) %}{% endfor %}"
        "{{ ns.n | tojson }}", "nested deeper than 256");
  // The engine still works after a failure (no state is left behind).
  CHECK(render("{% for i in range(3) %}{{ i }}{% endfor %}") == "012");
}
