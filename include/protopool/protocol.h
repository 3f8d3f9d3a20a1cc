// File: protopool/protocol.h
//
// PURPOSE: protocol messages that live in the memory resource their owner
// chose: an allocator-aware sum of message types, the example message set
// of the original experiment, and boxes (the equivalent of Rust's
// `Box::new_in`).
//
// CLASSES:
//   protopool::basic_protocol<Ms...>  one message out of a closed set,
//                                     allocator-aware (pmr)
//   protopool::msg::add, sub, mul     fixed messages: two std::uint64_t
//   protopool::msg::echo              a payload message: a std::pmr::string
//   protopool::protocol               basic_protocol<add, sub, mul, echo>
//   protopool::box<T>                 a move-only owner that remembers its
//                                     memory_resource
//   protopool::make_box<T>(r, args)   makes a T in r and boxes it
//
// USAGE:
//   protopool::slot_pool_resource pool({.slot_size = 128});
//   std::pmr::list<protopool::protocol> inbox(&pool);
//   inbox.emplace_back(protopool::msg::add{5, 6});
//   inbox.emplace_back(std::in_place_type<protopool::msg::echo>,
//                      "a text too long for the small-string buffer");
//   // Both list nodes and the echo's characters live in `pool`.
//   std::cout << inbox.front();  // Add { left: 5, right: 6 }
//
//   auto boxed = protopool::make_box<protopool::protocol>(
//       &pool, protopool::msg::mul{6, 7});  // one slot; freed with the box
//
// A `basic_protocol` is allocator-aware the way `std::pmr::string` is: it
// has `allocator_type = std::pmr::polymorphic_allocator<>`, and a pmr
// container (`std::pmr::vector`, `list`, `map`, ...) builds it by
// uses-allocator construction, passing the container's resource down. A held
// message that is itself allocator-aware (it has an `allocator_type`, so
// `std::uses_allocator` is true, and allocator-extended constructors) is
// built with that same resource; any other message is simply copied. So a
// whole message graph lives in the resource the user chose.
//
// Allocator rules (those of the std::pmr containers, whose
// `propagate_on_container_*` are all false):
// - A constructor without an allocator argument uses the default resource
//   (`std::pmr::get_default_resource()`), except the move constructor,
//   which takes the source's.
// - An allocator-extended copy or move constructor uses the given resource;
//   a move into a different resource copies.
// - Assignment never changes an object's resource: the new value is built
//   in (or copied into) the target's resource.
#pragma once

#include <absl/strings/str_format.h>
#include <protopool/slot_pool_resource.h>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <memory_resource>
#include <new>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

namespace protopool {

namespace detail {

template <class T, class... Ts>
inline constexpr bool is_one_of = (std::is_same_v<T, Ts> || ...);

template <class T, class... Ts>
inline constexpr std::size_t index_of = [] {
  std::size_t index = 0;
  const bool found = ((std::is_same_v<T, Ts> ? true : (++index, false)) || ...);
  return found ? index : sizeof...(Ts);
}();

template <class... Ts>
inline constexpr bool all_distinct = true;
template <class T, class... Ts>
inline constexpr bool all_distinct<T, Ts...> =
    !is_one_of<T, Ts...> && all_distinct<Ts...>;

/// True if `T` is built by uses-allocator construction from a
/// `std::pmr::polymorphic_allocator<>`.
template <class T>
inline constexpr bool is_allocator_aware =
    std::uses_allocator_v<T, std::pmr::polymorphic_allocator<>>;

/// True if a `T` is built from `Args...` with braces: an aggregate such as
/// `msg::add`, given anything but one `T` to copy or move. Braces on every
/// compiler, so a narrowing conversion is a compile error everywhere (g++
/// would otherwise take parentheses, which allow it; clang 14 has no
/// parenthesized aggregate initialization).
template <class T, class... Args>
inline constexpr bool brace_initialized =
    std::is_aggregate_v<T> &&
    !(sizeof...(Args) == 1 &&
      (std::is_same_v<std::remove_cvref_t<Args>, T> && ...));

/// True if `with_construction_args<T>` can build a `T` from `Args...`: with
/// braces (above), or by uses-allocator construction with a
/// `polymorphic_allocator<>` ([allocator.uses.construction]).
template <class T, class... Args>
consteval bool builds_using_resource() {
  using alloc = const std::pmr::polymorphic_allocator<>&;
  if constexpr (brace_initialized<T, Args...>) {
    return requires(Args && ... args) { T{std::forward<Args>(args)...}; };
  } else if constexpr (is_allocator_aware<T>) {
    return std::is_constructible_v<T, std::allocator_arg_t, alloc, Args...> ||
           std::is_constructible_v<T, Args..., alloc>;
  } else {
    return std::is_constructible_v<T, Args...>;
  }
}
template <class T, class... Args>
concept constructible_using_resource = builds_using_resource<T, Args...>();

/// Calls `f` with the arguments that build a `T` from `args` using the
/// resource of `alloc` (uses-allocator construction), and returns its result
/// (a prvalue is not moved).
template <class T, class F, class... Args>
decltype(auto) with_construction_args(
    F&& f, const std::pmr::polymorphic_allocator<>& alloc, Args&&... args) {
  if constexpr (brace_initialized<T, Args...>) {
    return std::forward<F>(f)(T{std::forward<Args>(args)...});
  } else {
    return std::apply(std::forward<F>(f),
                      std::uses_allocator_construction_args<T>(
                          alloc, std::forward<Args>(args)...));
  }
}

/// Lets `absl::Format` write to the sink `AbslFormatConvert` is given.
struct format_sink_writer {
  absl::FormatSink* sink;
  friend void AbslFormatFlush(format_sink_writer* writer,
                              absl::string_view text) {
    writer->sink->Append(text);
  }
};

template <class M>
concept absl_formattable = requires(const M& message,
                                    const absl::FormatConversionSpec& spec,
                                    absl::FormatSink* sink) {
  AbslFormatConvert(message, spec, sink);
};

template <class M>
concept streamable = requires(std::ostream& out, const M& message) {
  { out << message } -> std::same_as<std::ostream&>;
};

}  // namespace detail

/// One message out of the closed set `Messages...`: a Protocol.
///
/// Use it to pass messages of several kinds through one pmr container or
/// one box. Users bring their own message types
/// (`using my_protocol = basic_protocol<login, quote, order>;`); each must be
/// a distinct object type, destructible without throwing, and either
/// allocator-aware with pmr semantics (an `allocator_type` convertible from
/// `std::pmr::polymorphic_allocator<>`, allocator-extended copy and move
/// constructors, and assignment that keeps its own resource, as
/// `std::pmr::string` has) or needing no allocator at all.
///
/// Exceptions: replacing the message with one of another type (assignment,
/// `emplace`) builds the new message first, so a throw there changes
/// nothing; the new message is then moved into place. A message type whose
/// move constructor may throw (`noexcept(false)`) can throw at that step
/// too, after the old message is gone: the protocol is then valueless, as
/// a `std::variant` is (`valueless_by_exception()` is true, `index()` is
/// `std::variant_npos`, `visit` throws `std::bad_variant_access`, a copy
/// or a move of it is valueless too) until something is assigned or
/// emplaced. The messages of `protocol` all move
/// without throwing.
///
/// A default-constructed protocol holds a value-initialized first message.
/// `==` compares the held messages (type, then value), never the resources.
///
/// Thread safety: that of its messages (none for a shared mutable object).
template <class... Messages>
class basic_protocol {
  static_assert(sizeof...(Messages) > 0, "a protocol needs a message type");
  static_assert(detail::all_distinct<Messages...>,
                "a protocol's message types must be distinct");
  static_assert((std::is_object_v<Messages> && ...) &&
                    (!std::is_const_v<Messages> && ...),
                "message types must be non-const object types");

  template <class M>
  static constexpr bool is_message = detail::is_one_of<M, Messages...>;
  static constexpr bool copyable =
      (std::is_copy_constructible_v<Messages> && ...);

 public:
  using allocator_type = std::pmr::polymorphic_allocator<>;

  /// Holds a value-initialized first message; uses the default resource.
  basic_protocol() : basic_protocol(std::allocator_arg, allocator_type{}) {}

  /// Holds a value-initialized first message made with `alloc`.
  basic_protocol(std::allocator_arg_t, const allocator_type& alloc)
      : allocator_(alloc), message_(make_message<first_message>(allocator_)) {}

  /// Holds a copy of `message` (a move if it is an rvalue and its resource
  /// is the default one), made with the default resource. Implicit, as
  /// `std::variant`'s converting constructor.
  template <class M>
  requires is_message<std::remove_cvref_t<M>> &&
      detail::constructible_using_resource<std::remove_cvref_t<M>, M>
      basic_protocol(M&& message)  // NOLINT(google-explicit-constructor)
      : basic_protocol(std::allocator_arg, allocator_type{},
                       std::forward<M>(message)) {}

  /// Holds a copy of `message` made with `alloc` (a move if `message` is an
  /// rvalue already in that resource).
  template <class M>
  requires is_message<std::remove_cvref_t<M>> &&
      detail::constructible_using_resource<std::remove_cvref_t<M>, M>
      basic_protocol(std::allocator_arg_t, const allocator_type& alloc,
                     M&& message)
      : allocator_(alloc),
        message_(make_message<std::remove_cvref_t<M>>(
            allocator_, std::forward<M>(message))) {}

  /// Holds an `M` made from `args` with the default resource.
  template <class M, class... Args>
  requires is_message<M> && detail::constructible_using_resource<M, Args...>
  explicit basic_protocol(std::in_place_type_t<M> type, Args&&... args)
      : basic_protocol(std::allocator_arg, allocator_type{}, type,
                       std::forward<Args>(args)...) {}

  /// Holds an `M` made from `args` by uses-allocator construction with
  /// `alloc` (an aggregate `M` is brace-initialized from `args`, so a
  /// narrowing conversion does not compile).
  template <class M, class... Args>
  requires is_message<M> && detail::constructible_using_resource<M, Args...>
  basic_protocol(std::allocator_arg_t, const allocator_type& alloc,
                 std::in_place_type_t<M>, Args&&... args)
      : allocator_(alloc),
        message_(make_message<M>(allocator_, std::forward<Args>(args)...)) {}

  /// Copies `other`'s message into the default resource (as a pmr
  /// container's copy constructor does).
  basic_protocol(const basic_protocol& other) requires copyable
      : basic_protocol(std::allocator_arg, allocator_type{}, other) {}

  /// Copies `other`'s message into the resource of `alloc`.
  basic_protocol(std::allocator_arg_t, const allocator_type& alloc,
                 const basic_protocol& other) requires copyable
      : allocator_(alloc),
        message_(copy_message(allocator_, other.message_)) {}

  /// The same, in the trailing-allocator form of the std containers.
  basic_protocol(const basic_protocol& other,
                 const allocator_type& alloc) requires copyable
      : basic_protocol(std::allocator_arg, alloc, other) {}

  /// Takes `other`'s message and resource; `other` keeps a moved-from
  /// message of the same type.
  basic_protocol(basic_protocol&& other) noexcept(
      (std::is_nothrow_move_constructible_v<Messages> && ...))
      : allocator_(other.allocator_), message_(std::move(other.message_)) {}

  /// Moves `other`'s message into the resource of `alloc`: a move if the
  /// resources are equal, otherwise a copy (as `std::pmr::string`).
  basic_protocol(std::allocator_arg_t, const allocator_type& alloc,
                 basic_protocol&& other)
      : allocator_(alloc),
        message_(copy_message(allocator_, std::move(other.message_))) {}

  /// The same, in the trailing-allocator form of the std containers.
  basic_protocol(basic_protocol&& other, const allocator_type& alloc)
      : basic_protocol(std::allocator_arg, alloc, std::move(other)) {}

  /// Gives this protocol a copy of `other`'s message, made in this
  /// protocol's resource (which does not change). If that throws, `*this`
  /// is unchanged when the message types differ (unless the new type's
  /// move constructor throws: see the class comment).
  basic_protocol& operator=(const basic_protocol& other) requires(
      copyable && (std::is_copy_assignable_v<Messages> && ...)) {
    if (this != &other) {
      assign(other.message_);
    }
    return *this;
  }

  /// Gives this protocol `other`'s message: moved if the resources are
  /// equal, otherwise copied into this protocol's resource (which does not
  /// change).
  basic_protocol& operator=(basic_protocol&& other) noexcept(
      (std::is_nothrow_move_constructible_v<Messages> && ...) &&
      (std::is_nothrow_move_assignable_v<Messages> && ...) &&
      !(detail::is_allocator_aware<Messages> || ...)) {
    if (this != &other) {
      if (allocator_ != other.allocator_) {
        assign(std::move(other.message_));
      } else if (message_.index() == other.message_.index()) {
        message_ = std::move(other.message_);  // the message's own move
      } else {
        // Moved out first: `other` may be owned by the message this
        // protocol holds (`p = std::move(*p.get_if<node>()->child)`),
        // which the variant destroys before it moves in a new type.
        variant_type taken(std::move(other.message_));
        message_ = std::move(taken);
      }
    }
    return *this;
  }

  /// Replaces the message with `message`, made in this protocol's resource.
  template <class M>
  requires is_message<std::remove_cvref_t<M>> &&
      detail::constructible_using_resource<std::remove_cvref_t<M>, M>
          basic_protocol& operator=(M&& message) {
    emplace<std::remove_cvref_t<M>>(std::forward<M>(message));
    return *this;
  }

  ~basic_protocol() = default;

  /// Destroys the message and holds an `M` made from `args` with this
  /// protocol's resource. Returns it. If the construction throws, the old
  /// message is kept (if `M`'s move constructor throws, the protocol is
  /// valueless: see the class comment).
  template <class M, class... Args>
  requires is_message<M> && detail::constructible_using_resource<M, Args...> M&
  emplace(Args&&... args) {
    // Built first, in our resource, so a throw changes nothing; the move
    // into place stays within that resource.
    message_ = make_message<M>(allocator_, std::forward<Args>(args)...);
    return *std::get_if<M>(&message_);
  }

  /// Returns the allocator every allocator-aware message it holds uses.
  [[nodiscard]] allocator_type get_allocator() const noexcept {
    return allocator_;
  }

  /// Returns the position of the held message's type in `Messages...`
  /// (`std::variant_npos` if valueless).
  [[nodiscard]] std::size_t index() const noexcept { return message_.index(); }

  /// Returns true if the protocol holds no message: only after a message
  /// type's move constructor threw (see the class comment).
  [[nodiscard]] bool valueless_by_exception() const noexcept {
    return message_.valueless_by_exception();
  }

  /// Returns true if the held message is an `M`.
  template <class M>
  requires is_message<M>
  [[nodiscard]] bool holds() const noexcept {
    return std::holds_alternative<M>(message_);
  }

  /// Returns the held message if it is an `M`, otherwise null.
  template <class M>
  requires is_message<M>
  [[nodiscard]] M* get_if() noexcept { return std::get_if<M>(&message_); }
  template <class M>
  requires is_message<M>
  [[nodiscard]] const M* get_if() const noexcept {
    return std::get_if<M>(&message_);
  }

  /// Calls `visitor` with the held message and returns what it returns
  /// (every overload must return the same type, as `std::visit`).
  template <class Visitor>
  decltype(auto) visit(Visitor&& visitor) & {
    return std::visit(std::forward<Visitor>(visitor), message_);
  }
  template <class Visitor>
  decltype(auto) visit(Visitor&& visitor) const& {
    return std::visit(std::forward<Visitor>(visitor), message_);
  }
  template <class Visitor>
  decltype(auto) visit(Visitor&& visitor) && {
    return std::visit(std::forward<Visitor>(visitor), std::move(message_));
  }

  /// Calls `visitor` with the message `protocol` holds (`std::visit`
  /// spelling).
  template <class Visitor, class P>
  requires std::is_same_v<std::remove_cvref_t<P>, basic_protocol>
  friend decltype(auto) visit(Visitor&& visitor, P&& protocol) {
    return std::forward<P>(protocol).visit(std::forward<Visitor>(visitor));
  }

  /// Returns true if both hold the same message type with equal values.
  /// Resources are not compared.
  friend bool
  operator==(const basic_protocol& left, const basic_protocol& right) requires(
      std::equality_comparable<Messages>&&...) {
    return left.message_ == right.message_;
  }

  /// Writes the held message as the message's own `operator<<` does.
  friend std::ostream&
  operator<<(std::ostream& out, const basic_protocol& protocol) requires(
      detail::streamable<Messages>&&...) {
    protocol.visit([&out](const auto& message) { out << message; });
    return out;
  }

  /// Formats the held message with `%s` as the message's own
  /// `AbslFormatConvert` does (or its `operator<<` if it has no
  /// `AbslFormatConvert`), so `absl::StrFormat("%s", protocol)` works.
  friend absl::FormatConvertResult<absl::FormatConversionCharSet::kString>
  AbslFormatConvert(
      const basic_protocol& protocol,
      const absl::FormatConversionSpec& /*spec*/,
      absl::FormatSink* sink) requires((detail::absl_formattable<Messages> ||
                                        detail::streamable<Messages>)&&...) {
    protocol.visit([sink](const auto& message) {
      using message_type = std::remove_cvref_t<decltype(message)>;
      detail::format_sink_writer writer{sink};
      if constexpr (detail::absl_formattable<message_type>) {
        absl::Format(&writer, "%s", message);
      } else {
        std::ostringstream text;
        text << message;
        sink->Append(text.str());
      }
    });
    return {true};
  }

 private:
  using first_message = std::tuple_element_t<0, std::tuple<Messages...>>;
  using variant_type = std::variant<Messages...>;

  // Builds the variant holding an `M` made from `args` with `alloc`, in
  // place (the returned prvalue initializes the member directly).
  template <class M, class... Args>
  static variant_type make_message(const allocator_type& alloc,
                                   Args&&... args) {
    constexpr std::size_t index = detail::index_of<M, Messages...>;
    return detail::with_construction_args<M>(
        [](auto&&... construction_args) {
          return variant_type(
              std::in_place_index<index>,
              std::forward<decltype(construction_args)>(construction_args)...);
        },
        alloc, std::forward<Args>(args)...);
  }

  // Builds a variant holding a copy (or, from an rvalue, a move) of the
  // message in `source`, made with `alloc`.
  // A valueless source gives a valueless copy, as a variant's copy does.
  template <class V>
  static variant_type copy_message(const allocator_type& alloc, V&& source) {
    if (source.valueless_by_exception()) {
      return variant_type(std::forward<V>(source));
    }
    return std::visit(
        [&alloc](auto&& message) {
          using message_type = std::remove_cvref_t<decltype(message)>;
          return make_message<message_type>(
              alloc, std::forward<decltype(message)>(message));
        },
        std::forward<V>(source));
  }

  // Assignment that keeps this protocol's resource. Same message type: the
  // message's own assignment (pmr messages keep their resource). Otherwise
  // the new message is built in our resource first, so a throw leaves
  // `*this` unchanged, then moved in (a move within one resource).
  template <class V>
  void assign(V&& source) {
    if (source.valueless_by_exception()) {
      message_ = std::forward<V>(source);  // valueless too, as a variant
    } else if (message_.index() == source.index()) {
      std::visit(
          [this](auto&& message) {
            using message_type = std::remove_cvref_t<decltype(message)>;
            *std::get_if<message_type>(&message_) =
                std::forward<decltype(message)>(message);
          },
          std::forward<V>(source));
    } else {
      message_ = copy_message(allocator_, std::forward<V>(source));
    }
  }

  allocator_type allocator_;
  variant_type message_;
};

/// The example Protocol of the original experiment: three fixed arithmetic
/// messages and one payload message.
namespace msg {

/// A request to add `left` and `right`. Trivially copyable; fits one slot.
struct add {
  std::uint64_t left = 0;
  std::uint64_t right = 0;
  friend bool operator==(const add&, const add&) = default;
};

/// A request to subtract `right` from `left`. Trivially copyable.
struct sub {
  std::uint64_t left = 0;
  std::uint64_t right = 0;
  friend bool operator==(const sub&, const sub&) = default;
};

/// A request to multiply `left` by `right`. Trivially copyable.
struct mul {
  std::uint64_t left = 0;
  std::uint64_t right = 0;
  friend bool operator==(const mul&, const mul&) = default;
};

/// A payload message: `text` to be echoed back. Allocator-aware: its
/// characters live in the resource it was made with (a container's, a
/// box's), and assignment keeps that resource.
struct echo {
  using allocator_type = std::pmr::polymorphic_allocator<>;

  std::pmr::string text;

  /// An empty text in the default resource.
  echo() = default;
  /// An empty text in the resource of `alloc`.
  explicit echo(const allocator_type& alloc) : text(alloc) {}
  /// A copy of `value` in the resource of `alloc`.
  explicit echo(std::string_view value, const allocator_type& alloc = {})
      : text(value, alloc) {}
  /// A copy of `other`, in the default resource.
  echo(const echo& other) = default;
  /// Takes `other`'s text and resource.
  echo(echo&& other) noexcept = default;
  /// A copy of `other` in the resource of `alloc`.
  echo(const echo& other, const allocator_type& alloc)
      : text(other.text, alloc) {}
  /// `other`'s text moved into the resource of `alloc` (copied if the
  /// resources differ).
  echo(echo&& other, const allocator_type& alloc)
      : text(std::move(other.text), alloc) {}
  echo& operator=(const echo& other) = default;
  echo& operator=(echo&& other) = default;
  ~echo() = default;

  /// Returns the allocator of `text`.
  [[nodiscard]] allocator_type get_allocator() const noexcept {
    return text.get_allocator();
  }

  friend bool operator==(const echo&, const echo&) = default;
};

/// Write the message in the original experiment's shape:
/// `Add { left: 5, right: 6 }`, `Sub { ... }`, `Mul { ... }`, and
/// `Echo { text: "hi" }`. The echo's text is quoted and escaped as Rust's
/// `{:?}` of a `str` does (Rust 1.61 and later): `"` and `\` get a
/// backslash, NUL, tab, newline and carriage return become `\0`, `\t`,
/// `\n`, `\r`, other control characters (below 0x20, 0x7f, and the UTF-8
/// encoded U+0080 to U+009F) and U+00A0, U+00AD become `\u{XX}` (lowercase
/// hex, no leading zeros); `'` and every other byte are written as they are.
/// Unlike Rust, characters above U+00FF that Rust's Unicode tables call
/// unprintable or grapheme-extending (U+0301, U+200B, ...) are not escaped,
/// and bytes that are not UTF-8 (which a Rust `str` cannot hold) are
/// written as they are.
void write_message(absl::FormatRawSink out, const add& message);
void write_message(absl::FormatRawSink out, const sub& message);
void write_message(absl::FormatRawSink out, const mul& message);
void write_message(absl::FormatRawSink out, const echo& message);

/// Writes `message` as `write_message` does.
template <class M>
requires requires(absl::FormatRawSink out, const M& message) {
  write_message(out, message);
}
std::ostream& operator<<(std::ostream& out, const M& message) {
  write_message(&out, message);
  return out;
}

/// Formats `message` with `%s` as `write_message` does, so
/// `absl::StrFormat("%s", message)` works.
template <class M>
requires requires(absl::FormatRawSink out, const M& message) {
  write_message(out, message);
}
absl::FormatConvertResult<absl::FormatConversionCharSet::kString>
AbslFormatConvert(const M& message, const absl::FormatConversionSpec& /*spec*/,
                  absl::FormatSink* sink) {
  detail::format_sink_writer writer{sink};
  write_message(&writer, message);
  return {true};
}

}  // namespace msg

/// The original experiment's Protocol.
using protocol = basic_protocol<msg::add, msg::sub, msg::mul, msg::echo>;

static_assert(std::is_trivially_copyable_v<msg::add> &&
                  std::is_trivially_copyable_v<msg::sub> &&
                  std::is_trivially_copyable_v<msg::mul>,
              "the fixed messages are plain data");
static_assert(
    sizeof(msg::add) <= slot_pool_options::for_type<protocol>().slot_size &&
        sizeof(msg::sub) <= slot_pool_options::for_type<protocol>().slot_size &&
        sizeof(msg::mul) <= slot_pool_options::for_type<protocol>().slot_size,
    "each fixed message fits one slot of a protocol pool");
static_assert(alignof(msg::add) <=
                  slot_pool_options::for_type<protocol>().slot_alignment,
              "a fixed message is aligned in a protocol pool's slot");
static_assert(
    std::uses_allocator_v<protocol, std::pmr::polymorphic_allocator<>>,
    "pmr containers pass their resource down into a protocol");
static_assert(detail::is_allocator_aware<msg::echo> &&
                  !detail::is_allocator_aware<msg::add>,
              "echo takes the resource; the fixed messages need none");

/// A move-only owner of one `T` made in a `std::pmr::memory_resource`; the
/// equivalent of Rust's `Box::new_in`. It remembers the resource and, when
/// destroyed or reset, destroys the `T` and returns `sizeof(T)` bytes with
/// `alignof(T)` alignment there.
///
/// Use it for a single message that must outlive a scope without a
/// container; make it with `make_box`. It is two pointers wide. An empty box
/// (default-constructed, moved from, reset or released) owns nothing.
/// `resource()` is part of its value: a move transfers it (the moved-from
/// box has none); `reset()` and `release()` keep it.
///
/// Thread safety: none for one box; distinct boxes are independent (as far
/// as their resources are).
template <class T>
class box {
  static_assert(std::is_object_v<T> && !std::is_array_v<T>,
                "box holds one object");

 public:
  using element_type = T;

  /// An empty box with no resource.
  box() noexcept = default;

  /// Adopts `object`, to be returned to `resource`. Behaviour is undefined
  /// unless `object` is null or points to a `T` built in
  /// `resource->allocate(sizeof(T), alignof(T))` that nothing else owns.
  box(T* object, std::pmr::memory_resource* resource) noexcept
      : object_(object), resource_(resource) {}

  box(const box&) = delete;
  box& operator=(const box&) = delete;

  /// Takes `other`'s object and resource; `other` becomes empty with no
  /// resource.
  box(box&& other) noexcept
      : object_(std::exchange(other.object_, nullptr)),
        resource_(std::exchange(other.resource_, nullptr)) {}

  /// Takes `other`'s object and resource (`other` becomes empty with no
  /// resource), then frees the object this box held, if any, to the
  /// resource it came from. In that order, as `std::unique_ptr` does, so
  /// `other` may be owned by the old object: `head = std::move(head->next)`
  /// drops one node of a boxed list. A self move changes nothing.
  box& operator=(box&& other) noexcept {
    T* const old_object =
        std::exchange(object_, std::exchange(other.object_, nullptr));
    std::pmr::memory_resource* const old_resource =
        std::exchange(resource_, std::exchange(other.resource_, nullptr));
    if (old_object != nullptr) {
      std::destroy_at(old_object);
      old_resource->deallocate(memory_of(old_object), sizeof(T), alignof(T));
    }
    return *this;
  }

  /// Destroys the object and returns its memory to `resource()`.
  ~box() { reset(); }

  /// Destroys the object (if any) and returns its memory to `resource()`;
  /// the box becomes empty and keeps its resource.
  void reset() noexcept {
    if (T* const object = std::exchange(object_, nullptr)) {
      std::pmr::memory_resource* const resource = resource_;
      std::destroy_at(object);
      resource->deallocate(memory_of(object), sizeof(T), alignof(T));
    }
  }

  /// Gives up ownership: returns the object and leaves the box empty (it
  /// keeps its resource). The caller must destroy the object and return
  /// `sizeof(T)` bytes, `alignof(T)` aligned, to `resource()`, or hand both
  /// to a new box.
  [[nodiscard]] T* release() noexcept {
    return std::exchange(object_, nullptr);
  }

  /// Returns the object, or null if the box is empty.
  [[nodiscard]] T* get() const noexcept { return object_; }

  /// Returns the resource the object came from (see the class comment).
  [[nodiscard]] std::pmr::memory_resource* resource() const noexcept {
    return resource_;
  }

  /// Returns true if the box holds an object.
  explicit operator bool() const noexcept { return object_ != nullptr; }

  /// Returns the object. Behaviour is undefined unless the box holds one.
  T& operator*() const noexcept { return *object_; }
  /// Returns the object. Behaviour is undefined unless the box holds one.
  T* operator->() const noexcept { return object_; }

 private:
  // The memory of `object` (a `box<const T>` frees it too).
  static void* memory_of(T* object) noexcept {
    return const_cast<std::remove_cv_t<T>*>(object);
  }

  T* object_ = nullptr;
  std::pmr::memory_resource* resource_ = nullptr;
};

static_assert(sizeof(box<protocol>) <= 2 * sizeof(void*),
              "a box is an object pointer and a resource pointer");

/// Allocates `sizeof(T)` bytes (`alignof(T)` aligned) from `resource`,
/// builds a `T` there from `args` and returns it boxed. An allocator-aware
/// `T` (a `protocol`, `msg::echo`) is built by uses-allocator construction
/// with `resource`, so its payload lives there too; an aggregate is
/// brace-initialized from `args` (anything but one `T` to copy or move),
/// so a narrowing conversion does not compile. Takes part in overload
/// resolution only if `T` can be built so from `args`. If the
/// construction throws, the memory is returned to `resource` and the
/// exception propagates. Behaviour is undefined unless `resource` is a
/// valid resource that outlives the box.
template <class T, class... Args>
requires detail::constructible_using_resource<T, Args...>
[[nodiscard]] box<T> make_box(std::pmr::memory_resource* resource,
                              Args&&... args) {
  void* const memory = resource->allocate(sizeof(T), alignof(T));
  try {
    T* const object = detail::with_construction_args<T>(
        [memory](auto&&... construction_args) {
          return ::new (memory) T(
              std::forward<decltype(construction_args)>(construction_args)...);
        },
        std::pmr::polymorphic_allocator<>(resource),
        std::forward<Args>(args)...);
    return box<T>(object, resource);
  } catch (...) {
    resource->deallocate(memory, sizeof(T), alignof(T));
    throw;
  }
}

}  // namespace protopool
