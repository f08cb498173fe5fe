// The DATA reader and the Received counter: the end of data, the content and
// the count of Received fields must not depend on where the input is cut.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "proto/data_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  std::size_t split = data[0] % (input.size() + 1);
  tern::proto::DataReader whole(1000), pieces(1000);
  std::string a, b;
  auto consumed_whole = whole.feed(input, a);
  auto consumed = pieces.feed(input.substr(0, split), b);
  if (!pieces.done()) consumed += pieces.feed(input.substr(split), b);
  if (consumed != consumed_whole || a != b || whole.done() != pieces.done() ||
      whole.bare_line_ending() != pieces.bare_line_ending()) {
    __builtin_trap();
  }
  tern::proto::ReceivedCounter counted_whole, counted_pieces;
  counted_whole.feed(input);
  counted_pieces.feed(input.substr(0, split));
  counted_pieces.feed(input.substr(split));
  if (counted_whole.count() != counted_pieces.count()) __builtin_trap();
  return 0;
}
