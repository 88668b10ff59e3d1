#pragma once
// Result<T, E>: a value or the error of the layer that made it, for functions that must not throw on bad
// input. E is tftp::errc in the core's codec and negotiation; a layer with richer failures names its own
// (the content providers answer with an ERROR packet to send: Result<ReadContent, Refusal>).
// (std::expected is C++23; the core stays C++20 so that clang 14 builds it.)

#include <cassert>
#include <concepts>
#include <system_error>
#include <utility>
#include <variant>

#include "tftp/error.hpp"

namespace tftp {

template <class T, class E = errc>
class Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(E error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  T& value() & { assert(has_value()); return std::get<0>(v_); }
  const T& value() const& { assert(has_value()); return std::get<0>(v_); }
  T&& value() && { assert(has_value()); return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // The error; E{} (errc{}: 0) when there is a value.
  E error() const { return has_value() ? E{} : std::get<1>(v_); }
  std::error_code error_code() const noexcept
    requires std::is_same_v<E, errc>
  {
    return has_value() ? std::error_code{} : make_error_code(error());
  }

  friend bool operator==(const Result& a, const Result& b)
    requires std::equality_comparable<T> && std::equality_comparable<E>
  {
    return a.v_ == b.v_;
  }

 private:
  std::variant<T, E> v_;
};

}  // namespace tftp
