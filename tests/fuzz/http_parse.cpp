// tests/fuzz/http_parse.cpp — libFuzzer target: Spoon 4's HTTP request parser.
//
// Any bytes at all go to http::parse. It must not crash (ASan, UBSan watch
// every access); a complete request's views must lie inside what it was
// given; and a complete request, cut off right after its head, must parse
// the same: the parser never looks past the empty line that ends the head.
#include "spoon4-webserver/http.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace {

bool inside(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const http::Request request = http::parse(input);
  const int status = http::status_of(request);
  if (status != 0 && status != 200 && status != 400 && status != 405 && status != 431)
    __builtin_trap();
  if (request.state != http::Request::State::complete) return 0;
  if (request.length > input.size() || request.length > http::max_head) __builtin_trap();
  for (const std::string_view part :
       {request.method, request.target, request.version, request.head})
    if (!inside(part, input)) __builtin_trap();
  const http::Request again = http::parse(input.substr(0, request.length));
  if (again.state != request.state || again.length != request.length ||
      again.method != request.method || again.target != request.target ||
      again.keep_alive != request.keep_alive)
    __builtin_trap();
  return 0;
}
