// Jinja lexer and parser, with the whitespace rules Hugging Face renders chat
// templates with: trim_blocks and lstrip_blocks on, plus the '-' markers.
#include <cerrno>
#include <algorithm>
#include <cctype>
#include <cstring>

#include "common/error.h"
#include "template/ast.h"

namespace edgerun::jinja {

namespace {

struct Segment {
  enum class Kind { Text, Expr, Stmt } kind;
  std::string text;
  int line;
};

int count_lines(const std::string& s, size_t from, size_t to) {
  int n = 0;
  for (size_t i = from; i < to && i < s.size(); ++i) n += s[i] == '\n';
  return n;
}

// Splits the source into text, {{ expression }} and {% statement %} segments.
std::vector<Segment> scan(const std::string& src, const std::string& where) {
  std::vector<Segment> out;
  size_t pos = 0;
  int line = 1;
  bool strip_next = false, trim_next = false;
  while (pos <= src.size()) {
    size_t open = src.find('{', pos);
    while (open != std::string::npos && open + 1 < src.size() && std::strchr("{%#", src[open + 1]) == nullptr)
      open = src.find('{', open + 1);
    if (open != std::string::npos && open + 1 >= src.size()) open = std::string::npos;
    std::string text = src.substr(pos, open == std::string::npos ? std::string::npos : open - pos);
    if (strip_next) {
      size_t k = 0;
      while (k < text.size() && std::isspace(static_cast<unsigned char>(text[k]))) ++k;
      text.erase(0, k);
    } else if (trim_next && !text.empty() && text[0] == '\n') {
      text.erase(0, 1);
    } else if (trim_next && text.size() >= 2 && text[0] == '\r' && text[1] == '\n') {
      text.erase(0, 2);
    }
    strip_next = trim_next = false;
    if (open == std::string::npos) {
      if (!text.empty()) out.push_back({Segment::Kind::Text, text, line});
      break;
    }
    const char kind = src[open + 1];
    size_t inner = open + 2;
    const char marker = inner < src.size() ? src[inner] : '\0';
    if (marker == '-') {
      while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
      ++inner;
    } else if (marker == '+') {
      ++inner;
    } else if (kind != '{') {
      // lstrip_blocks: a block tag alone on its line takes its indentation with it.
      size_t k = open;
      while (k > 0 && (src[k - 1] == ' ' || src[k - 1] == '\t')) --k;
      if (k == 0 || src[k - 1] == '\n') text.erase(text.size() - std::min(text.size(), open - k));
    }
    line += count_lines(src, pos, open);
    if (!text.empty()) out.push_back({Segment::Kind::Text, text, line});
    const int tag_line = line;

    // Find the closing delimiter, skipping string literals inside expressions.
    const char close_char = kind == '{' ? '}' : kind == '%' ? '%' : '#';
    size_t k = inner;
    char quote = 0;
    for (; k + 1 < src.size(); ++k) {
      const char c = src[k];
      if (kind != '#') {
        if (quote) {
          if (c == '\\') { ++k; continue; }
          if (c == quote) quote = 0;
          continue;
        }
        if (c == '\'' || c == '"') { quote = c; continue; }
      }
      if (c == close_char && src[k + 1] == '}') break;
    }
    if (k + 1 >= src.size()) fail(where + ":" + std::to_string(tag_line), "unclosed tag (missing '" + std::string(1, close_char) + "}') or unterminated string");
    size_t content_end = k;
    if (content_end > inner && src[content_end - 1] == '-') {
      strip_next = true;
      --content_end;
    } else if (content_end > inner && src[content_end - 1] == '+') {
      --content_end;
    } else if (kind != '{') {
      trim_next = true;
    }
    std::string content = src.substr(inner, content_end - inner);
    line += count_lines(src, open, k + 2);
    pos = k + 2;
    if (kind == '#') continue;

    // {% raw %} ... {% endraw %} is text, whatever it contains.
    size_t a = 0;
    while (a < content.size() && std::isspace(static_cast<unsigned char>(content[a]))) ++a;
    size_t b = content.size();
    while (b > a && std::isspace(static_cast<unsigned char>(content[b - 1]))) --b;
    if (kind == '%' && content.substr(a, b - a) == "raw") {
      size_t end = pos;
      for (;;) {
        end = src.find("{%", end);
        if (end == std::string::npos) fail(where + ":" + std::to_string(tag_line), "'raw' block is never closed");
        size_t e = end + 2;
        if (e < src.size() && (src[e] == '-' || src[e] == '+')) ++e;
        while (e < src.size() && std::isspace(static_cast<unsigned char>(src[e]))) ++e;
        if (src.compare(e, 6, "endraw") == 0) break;
        end += 2;
      }
      std::string raw = src.substr(pos, end - pos);
      if (trim_next && !raw.empty() && raw[0] == '\n') raw.erase(0, 1);
      trim_next = strip_next = false;
      const size_t close = src.find("%}", end);
      if (close == std::string::npos) fail(where + ":" + std::to_string(tag_line), "'endraw' tag is never closed");
      if (close > end && src[close - 1] == '-') strip_next = true;
      else trim_next = true;
      out.push_back({Segment::Kind::Text, raw, line});
      line += count_lines(src, pos, close);
      pos = close + 2;
      continue;
    }
    out.push_back({kind == '{' ? Segment::Kind::Expr : Segment::Kind::Stmt, content, tag_line});
  }
  return out;
}

struct Token {
  enum class Kind { Name, Int, Float, String, Op, End } kind;
  std::string text;
  Value value;
};

std::vector<Token> tokenize(const std::string& s, const std::string& where) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) { ++i; continue; }
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t j = i;
      while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_')) ++j;
      out.push_back({Token::Kind::Name, s.substr(i, j - i), {}});
      i = j;
      continue;
    }
    if (std::isdigit(static_cast<unsigned char>(c))) {
      size_t j = i;
      bool is_float = false;
      while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == '_')) ++j;
      if (j + 1 < s.size() && s[j] == '.' && std::isdigit(static_cast<unsigned char>(s[j + 1]))) {
        is_float = true;
        ++j;
        while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
      }
      std::string num = s.substr(i, j - i);
      num.erase(std::remove(num.begin(), num.end(), '_'), num.end());
      // A literal the number types cannot hold is the template's error, not a thrown std::out_of_range.
      errno = 0;
      const Value v = is_float ? Value::number(std::strtod(num.c_str(), nullptr)) : Value::integer(std::strtoll(num.c_str(), nullptr, 10));
      if (errno == ERANGE)
        fail(where, "the number " + num.substr(0, 40) + (num.size() > 40 ? "..." : "") + " is too large");
      out.push_back({is_float ? Token::Kind::Float : Token::Kind::Int, num, v});
      i = j;
      continue;
    }
    if (c == '\'' || c == '"') {
      std::string v;
      size_t j = i + 1;
      for (; j < s.size() && s[j] != c; ++j) {
        if (s[j] != '\\' || j + 1 >= s.size()) { v += s[j]; continue; }
        const char e = s[++j];
        switch (e) {
          case 'n': v += '\n'; break;
          case 't': v += '\t'; break;
          case 'r': v += '\r'; break;
          case '0': v += '\0'; break;
          case '\\': v += '\\'; break;
          case '\'': v += '\''; break;
          case '"': v += '"'; break;
          case '\n': break;
          default: v += '\\'; v += e;
        }
      }
      if (j >= s.size()) fail(where, "unterminated string literal");
      out.push_back({Token::Kind::String, "", Value::string(v)});
      i = j + 1;
      continue;
    }
    static const char* two[] = {"==", "!=", "<=", ">=", "//", "**"};
    bool matched = false;
    for (const char* op : two) {
      if (s.compare(i, 2, op) == 0) {
        out.push_back({Token::Kind::Op, op, {}});
        i += 2;
        matched = true;
        break;
      }
    }
    if (matched) continue;
    if (std::strchr("+-*/%<>=()[]{},.:|~", c)) {
      out.push_back({Token::Kind::Op, std::string(1, c), {}});
      ++i;
      continue;
    }
    fail(where, std::string("unexpected character '") + c + "'");
  }
  out.push_back({Token::Kind::End, "", {}});
  return out;
}

class Parser {
 public:
  Parser(std::vector<Segment> segs, std::string where) : segs_(std::move(segs)), where_(std::move(where)) {}

  std::shared_ptr<Template> run() {
    auto t = std::make_shared<Template>();
    std::string end;
    t->body = parse_body({}, &end);
    return t;
  }

 private:
  [[noreturn]] void error(const std::string& msg) const { fail(where_ + ":" + std::to_string(line_), msg); }

  // The parser recurses into nested blocks and sub-expressions, and the tree
  // it builds is walked (and freed) recursively: a template from a model file
  // must not be able to exhaust the stack, so both are bounded.
  static constexpr int kMaxNesting = 200;
  static constexpr int kMaxExpressionNodes = 20000;
  struct Nest {
    Parser& p;
    explicit Nest(Parser& parser) : p(parser) {
      if (++p.nesting_ > kMaxNesting) p.error("nested deeper than " + std::to_string(kMaxNesting) + " levels");
    }
    ~Nest() { --p.nesting_; }
  };

  // --- statements ---------------------------------------------------------------
  Body parse_body(const std::vector<std::string>& enders, std::string* ended_by) {
    Nest nest(*this);
    Body body;
    while (seg_ < segs_.size()) {
      const Segment& s = segs_[seg_++];
      line_ = s.line;
      if (s.kind == Segment::Kind::Text) {
        auto st = std::make_unique<Stmt>();
        st->kind = Stmt::Kind::Text;
        st->text = s.text;
        body.push_back(std::move(st));
        continue;
      }
      toks_ = tokenize(s.text, where_ + ":" + std::to_string(line_));
      pos_ = 0;
      if (s.kind == Segment::Kind::Expr) {
        auto st = std::make_unique<Stmt>();
        st->kind = Stmt::Kind::Output;
        st->line = line_;
        st->expr = expression();
        expect_end();
        body.push_back(std::move(st));
        continue;
      }
      const std::string kw = peek().kind == Token::Kind::Name ? peek().text : "";
      if (std::find(enders.begin(), enders.end(), kw) != enders.end()) {
        ++pos_;
        *ended_by = kw;
        return body;
      }
      body.push_back(statement(kw));
    }
    if (!enders.empty()) error("missing '{% " + enders.back() + " %}' at the end of the template");
    return body;
  }

  std::unique_ptr<Stmt> statement(const std::string& kw) {
    auto st = std::make_unique<Stmt>();
    st->line = line_;
    const int start_line = line_;
    ++pos_;
    if (kw == "if") {
      st->kind = Stmt::Kind::If;
      st->conditions.push_back(expression());
      expect_end();
      for (;;) {
        std::string end;
        st->branches.push_back(parse_body({"elif", "else", "endif"}, &end));
        if (end == "endif") { expect_end(); break; }
        if (end == "elif") { st->conditions.push_back(expression()); expect_end(); continue; }
        expect_end();
        st->branches.push_back(parse_body({"endif"}, &end));
        expect_end();
        break;
      }
    } else if (kw == "for") {
      st->kind = Stmt::Kind::For;
      st->targets = name_list();
      expect_name("in");
      st->expr = ternary(false);
      if (accept_name("if")) st->filter = expression();
      accept_name("recursive");
      expect_end();
      std::string end;
      st->body = parse_body({"else", "endfor"}, &end);
      expect_end();
      if (end == "else") {
        st->else_body = parse_body({"endfor"}, &end);
        expect_end();
      }
    } else if (kw == "set") {
      if (peek().kind == Token::Kind::Name && toks_[pos_ + 1].text == ".") {
        auto target = std::make_unique<Expr>();
        target->kind = Expr::Kind::Attr;
        auto obj = std::make_unique<Expr>();
        obj->kind = Expr::Kind::Name;
        obj->name = next().text;
        ++pos_;  // '.'
        target->name = expect_kind(Token::Kind::Name, "an attribute name").text;
        target->args.push_back(std::move(obj));
        st->target_attr = std::move(target);
      } else {
        st->targets = name_list();
      }
      if (accept_op("=")) {
        st->kind = Stmt::Kind::Set;
        st->expr = expression();
        expect_end();
      } else {
        st->kind = Stmt::Kind::SetBlock;
        expect_end();
        std::string end;
        st->body = parse_body({"endset"}, &end);
        expect_end();
      }
    } else if (kw == "macro") {
      st->kind = Stmt::Kind::Macro;
      st->name = expect_kind(Token::Kind::Name, "a macro name").text;
      expect_op("(");
      while (!accept_op(")")) {
        std::string p = expect_kind(Token::Kind::Name, "a parameter name").text;
        ExprPtr def;
        if (accept_op("=")) def = expression();
        st->params.emplace_back(p, std::move(def));
        if (!accept_op(",")) { expect_op(")"); break; }
      }
      expect_end();
      std::string end;
      st->body = parse_body({"endmacro"}, &end);
      expect_end();
    } else if (kw == "break" || kw == "continue") {
      st->kind = kw == "break" ? Stmt::Kind::Break : Stmt::Kind::Continue;
      expect_end();
    } else if (kw == "generation") {
      // transformers' assistant-mask marker: renders its body unchanged.
      st->kind = Stmt::Kind::Passthrough;
      expect_end();
      std::string end;
      st->body = parse_body({"endgeneration"}, &end);
      expect_end();
    } else {
      line_ = start_line;
      error(kw.empty() ? "expected a statement keyword" : "unknown statement '" + kw + "'");
    }
    return st;
  }

  std::vector<std::string> name_list() {
    std::vector<std::string> names;
    const bool paren = accept_op("(");
    do names.push_back(expect_kind(Token::Kind::Name, "a variable name").text);
    while (accept_op(","));
    if (paren) expect_op(")");
    return names;
  }

  // --- expressions ----------------------------------------------------------------
  ExprPtr make(Expr::Kind k, std::string name = {}) {
    if (++nodes_ > kMaxExpressionNodes)
      error("an expression of more than " + std::to_string(kMaxExpressionNodes) + " parts");
    auto e = std::make_unique<Expr>();
    e->kind = k;
    e->line = line_;
    e->name = std::move(name);
    return e;
  }
  ExprPtr binary(const std::string& op, ExprPtr a, ExprPtr b) {
    auto e = make(Expr::Kind::Binary, op);
    e->args.push_back(std::move(a));
    e->args.push_back(std::move(b));
    return e;
  }

  ExprPtr expression() {
    Nest nest(*this);
    if (expr_depth_++ == 0) nodes_ = 0;  // the count is per outermost expression
    ExprPtr e = ternary(true);
    --expr_depth_;
    return e;
  }

  ExprPtr ternary(bool allow_if) {
    ExprPtr e = or_expr();
    if (allow_if && accept_name("if")) {
      auto t = make(Expr::Kind::Ternary);
      ExprPtr cond = or_expr();
      ExprPtr other = accept_name("else") ? ternary(true) : nullptr;
      t->args.push_back(std::move(cond));
      t->args.push_back(std::move(e));
      t->args.push_back(std::move(other));
      return t;
    }
    return e;
  }
  ExprPtr or_expr() {
    ExprPtr e = and_expr();
    while (accept_name("or")) e = binary("or", std::move(e), and_expr());
    return e;
  }
  ExprPtr and_expr() {
    ExprPtr e = not_expr();
    while (accept_name("and")) e = binary("and", std::move(e), not_expr());
    return e;
  }
  ExprPtr not_expr() {
    if (accept_name("not")) {
      Nest nest(*this);
      auto e = make(Expr::Kind::Unary, "not");
      e->args.push_back(not_expr());
      return e;
    }
    return compare();
  }
  ExprPtr compare() {
    ExprPtr e = concat();
    for (;;) {
      const Token& t = peek();
      if (t.kind == Token::Kind::Op && (t.text == "==" || t.text == "!=" || t.text == "<" || t.text == ">" || t.text == "<=" || t.text == ">=")) {
        ++pos_;
        e = binary(t.text, std::move(e), concat());
      } else if (accept_name("in")) {
        e = binary("in", std::move(e), concat());
      } else if (t.kind == Token::Kind::Name && t.text == "not" && toks_[pos_ + 1].text == "in") {
        pos_ += 2;
        e = binary("not in", std::move(e), concat());
      } else {
        return e;
      }
    }
  }
  ExprPtr concat() {
    ExprPtr e = additive();
    while (accept_op("~")) e = binary("~", std::move(e), additive());
    return e;
  }
  ExprPtr additive() {
    ExprPtr e = multiplicative();
    for (;;) {
      if (accept_op("+")) e = binary("+", std::move(e), multiplicative());
      else if (accept_op("-")) e = binary("-", std::move(e), multiplicative());
      else return e;
    }
  }
  ExprPtr multiplicative() {
    ExprPtr e = power();
    for (;;) {
      const Token& t = peek();
      if (t.kind == Token::Kind::Op && (t.text == "*" || t.text == "/" || t.text == "//" || t.text == "%")) {
        ++pos_;
        e = binary(t.text, std::move(e), power());
      } else {
        return e;
      }
    }
  }
  ExprPtr power() {
    ExprPtr e = unary();
    if (accept_op("**")) e = binary("**", std::move(e), unary());
    return e;
  }
  ExprPtr unary() {
    Nest nest(*this);
    if (accept_op("-")) {
      auto e = make(Expr::Kind::Unary, "-");
      e->args.push_back(unary());
      return e;
    }
    if (accept_op("+")) return unary();
    return postfix(primary());
  }

  ExprPtr primary() {
    const Token t = next();
    switch (t.kind) {
      case Token::Kind::Int: case Token::Kind::Float: case Token::Kind::String: {
        auto e = make(Expr::Kind::Literal);
        e->literal = t.value;
        // Adjacent string literals concatenate, as in Python.
        while (t.kind == Token::Kind::String && peek().kind == Token::Kind::String) e->literal.s += next().value.s;
        return e;
      }
      case Token::Kind::Name: {
        if (t.text == "true" || t.text == "True") { auto e = make(Expr::Kind::Literal); e->literal = Value::boolean(true); return e; }
        if (t.text == "false" || t.text == "False") { auto e = make(Expr::Kind::Literal); e->literal = Value::boolean(false); return e; }
        if (t.text == "none" || t.text == "None") { auto e = make(Expr::Kind::Literal); e->literal = Value::none(); return e; }
        return make(Expr::Kind::Name, t.text);
      }
      case Token::Kind::Op:
        if (t.text == "(") {
          ExprPtr e = expression();
          if (accept_op(",")) {  // a tuple: treated as a list
            auto list = make(Expr::Kind::List);
            list->args.push_back(std::move(e));
            while (!accept_op(")")) {
              list->args.push_back(expression());
              if (!accept_op(",")) { expect_op(")"); break; }
            }
            return list;
          }
          expect_op(")");
          return e;
        }
        if (t.text == "[") {
          auto list = make(Expr::Kind::List);
          while (!accept_op("]")) {
            list->args.push_back(expression());
            if (!accept_op(",")) { expect_op("]"); break; }
          }
          return list;
        }
        if (t.text == "{") {
          auto dict = make(Expr::Kind::Dict);
          while (!accept_op("}")) {
            dict->args.push_back(expression());
            expect_op(":");
            dict->args.push_back(expression());
            if (!accept_op(",")) { expect_op("}"); break; }
          }
          return dict;
        }
        break;
      default:
        break;
    }
    error(t.kind == Token::Kind::End ? "unexpected end of expression" : "unexpected '" + t.text + "'");
  }

  void call_args(Expr& call) {
    while (!accept_op(")")) {
      if (peek().kind == Token::Kind::Name && toks_[pos_ + 1].text == "=") {
        std::string k = next().text;
        ++pos_;
        call.kwargs.emplace_back(k, expression());
      } else {
        call.args.push_back(expression());
      }
      if (!accept_op(",")) { expect_op(")"); break; }
    }
  }

  ExprPtr postfix(ExprPtr e) {
    for (;;) {
      if (accept_op(".")) {
        auto a = make(Expr::Kind::Attr, expect_kind(Token::Kind::Name, "an attribute name").text);
        a->args.push_back(std::move(e));
        e = std::move(a);
      } else if (accept_op("[")) {
        ExprPtr idx[3];
        int parts = 0;
        bool slice = false;
        for (;;) {
          if (peek().text != ":" && peek().text != "]") idx[parts] = expression();
          if (accept_op(":")) {
            slice = true;
            if (++parts > 2) error("too many ':' in a slice");
            continue;
          }
          expect_op("]");
          break;
        }
        if (!slice && !idx[0]) error("an empty subscript '[]'");
        auto s = make(slice ? Expr::Kind::Slice : Expr::Kind::Index);
        s->args.push_back(std::move(e));
        for (auto& p : idx) s->args.push_back(std::move(p));
        e = std::move(s);
      } else if (accept_op("(")) {
        auto c = make(Expr::Kind::Call);
        c->args.push_back(std::move(e));
        call_args(*c);
        e = std::move(c);
      } else if (accept_op("|")) {
        auto f = make(Expr::Kind::Filter, expect_kind(Token::Kind::Name, "a filter name").text);
        f->args.push_back(std::move(e));
        if (accept_op("(")) call_args(*f);
        e = std::move(f);
      } else if (accept_name("is")) {
        const bool neg = accept_name("not");
        const Token& name = next();
        if (name.kind != Token::Kind::Name) error("expected a test name after 'is'");
        auto t = make(Expr::Kind::Test, name.text);
        t->negated = neg;
        t->args.push_back(std::move(e));
        if (accept_op("(")) call_args(*t);
        else if (peek().kind == Token::Kind::Int || peek().kind == Token::Kind::String || peek().kind == Token::Kind::Float)
          t->args.push_back(primary());  // "is divisibleby 3"
        e = std::move(t);
      } else {
        return e;
      }
    }
  }

  // --- token helpers ----------------------------------------------------------------
  const Token& peek() const { return toks_[pos_]; }
  const Token& next() { return toks_[pos_ < toks_.size() - 1 ? pos_++ : pos_]; }
  bool accept_op(const char* op) {
    if (peek().kind == Token::Kind::Op && peek().text == op) { ++pos_; return true; }
    return false;
  }
  bool accept_name(const char* n) {
    if (peek().kind == Token::Kind::Name && peek().text == n) { ++pos_; return true; }
    return false;
  }
  void expect_op(const char* op) {
    if (!accept_op(op)) error(std::string("expected '") + op + "' but found '" + describe(peek()) + "'");
  }
  void expect_name(const char* n) {
    if (!accept_name(n)) error(std::string("expected '") + n + "' but found '" + describe(peek()) + "'");
  }
  const Token& expect_kind(Token::Kind k, const char* what) {
    if (peek().kind != k) error(std::string("expected ") + what + " but found '" + describe(peek()) + "'");
    return next();
  }
  void expect_end() {
    if (peek().kind != Token::Kind::End) error("unexpected '" + describe(peek()) + "' at the end of a tag");
  }
  static std::string describe(const Token& t) {
    if (t.kind == Token::Kind::End) return "end of tag";
    if (t.kind == Token::Kind::String) return "'" + t.value.s + "'";
    return t.text;
  }

  std::vector<Segment> segs_;
  std::string where_;
  size_t seg_ = 0;
  int line_ = 1;
  int nesting_ = 0;     // blocks and sub-expressions being parsed
  int expr_depth_ = 0;  // expression() calls being parsed
  int nodes_ = 0;       // nodes of the outermost expression being parsed
  std::vector<Token> toks_;
  size_t pos_ = 0;
};

}  // namespace

std::shared_ptr<Template> parse(const std::string& source, const std::string& where) {
  return Parser(scan(source, where), where).run();
}

}  // namespace edgerun::jinja
