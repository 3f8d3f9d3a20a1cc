// File: lib/protocol.cc
#include <protopool/protocol.h>

namespace protopool::msg {

namespace {

// Writes `text` quoted, escaped as Rust's `{:?}` does (see protocol.h).
void write_quoted(absl::FormatRawSink out, std::string_view text) {
  absl::Format(out, "\"");
  std::size_t plain_start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    const char* escape = nullptr;
    switch (byte) {
      case '"':
        escape = "\\\"";
        break;
      case '\\':
        escape = "\\\\";
        break;
      case '\t':
        escape = "\\t";
        break;
      case '\n':
        escape = "\\n";
        break;
      case '\r':
        escape = "\\r";
        break;
      default:
        if (byte >= 0x20 && byte != 0x7f) {
          continue;  // plain: written with its run below
        }
        break;
    }
    absl::Format(out, "%s", text.substr(plain_start, i - plain_start));
    if (escape != nullptr) {
      absl::Format(out, "%s", escape);
    } else {
      absl::Format(out, "\\u{%x}", static_cast<unsigned>(byte));
    }
    plain_start = i + 1;
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
