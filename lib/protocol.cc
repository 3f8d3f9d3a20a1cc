// File: lib/protocol.cc
#include <protopool/protocol.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace protopool::msg {

namespace {

// A character Rust's str Debug (`{:?}`) writes escaped: its code point and
// the length of its UTF-8 encoding in the text.
struct escaped_char {
  std::uint32_t code_point;
  std::size_t length;
};

// Returns the character `rest` starts with if Rust's `{:?}` escapes it, for
// the characters this escaping knows (see protocol.h): ASCII's controls,
// `"` and `\`, and Latin-1's controls, U+00A0 and U+00AD (UTF-8 `C2 xx`).
std::optional<escaped_char> escaped_at(std::string_view rest) {
  const auto byte = static_cast<unsigned char>(rest[0]);
  if (byte < 0x20 || byte == '"' || byte == '\\' || byte == 0x7f) {
    return escaped_char{byte, 1};
  }
  if (byte == 0xc2 && rest.size() > 1) {
    const auto next = static_cast<unsigned char>(rest[1]);
    if ((next >= 0x80 && next <= 0xa0) || next == 0xad) {
      return escaped_char{next, 2};
    }
  }
  return std::nullopt;
}

// Writes the escape of `code_point` as Rust's `char::escape_debug` does.
void write_escape(absl::FormatRawSink out, std::uint32_t code_point) {
  switch (code_point) {
    case '\0':
      absl::Format(out, "\\0");
      return;
    case '\t':
      absl::Format(out, "\\t");
      return;
    case '\n':
      absl::Format(out, "\\n");
      return;
    case '\r':
      absl::Format(out, "\\r");
      return;
    case '"':
      absl::Format(out, "\\\"");
      return;
    case '\\':
      absl::Format(out, "\\\\");
      return;
    default:
      absl::Format(out, "\\u{%x}", code_point);
      return;
  }
}

// Writes `text` quoted, escaped as Rust's `{:?}` does (see protocol.h).
void write_quoted(absl::FormatRawSink out, std::string_view text) {
  absl::Format(out, "\"");
  std::size_t plain_start = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    const std::optional<escaped_char> escaped = escaped_at(text.substr(i));
    if (!escaped) {
      ++i;  // plain: written with its run below
      continue;
    }
    absl::Format(out, "%s", text.substr(plain_start, i - plain_start));
    write_escape(out, escaped->code_point);
    i += escaped->length;
    plain_start = i;
  }
  absl::Format(out, "%s\"", text.substr(plain_start));
}

}  // namespace

void write_message(absl::FormatRawSink out, const add& message) {
  absl::Format(out, "Add { left: %d, right: %d }", message.left, message.right);
}

void write_message(absl::FormatRawSink out, const sub& message) {
  absl::Format(out, "Sub { left: %d, right: %d }", message.left, message.right);
}

void write_message(absl::FormatRawSink out, const mul& message) {
  absl::Format(out, "Mul { left: %d, right: %d }", message.left, message.right);
}

void write_message(absl::FormatRawSink out, const echo& message) {
  absl::Format(out, "Echo { text: ");
  write_quoted(out, message.text);
  absl::Format(out, " }");
}

}  // namespace protopool::msg
