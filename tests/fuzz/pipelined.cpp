// tests/fuzz/pipelined.cpp — libFuzzer target: poll_server's answers to
// pipelined requests (answer_requests, and read_piece for files: connection.hpp).
//
// poll_server.cpp is compiled in whole (its main renamed by -Dmain=...). The
// same bytes are given to a connection twice: all at once, and cut into
// pieces at places the input chooses, as TCP may deliver them. The answers
// must be the same, byte for byte (the Date field aside): where a stream is
// cut must never change what the server says.
#include "spoon4-webserver/poll_server.cpp"

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

namespace {

std::filesystem::path make_root() {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("pipelined-fuzz-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "www");
  std::ofstream(dir / "www" / "index.html") << "home";
  std::ofstream(dir / "www" / "big.bin") << std::string(3 * file_piece / 2, 'b');  // two pieces
  return fs::canonical(dir / "www");
}

// What a client would read: everything answered, until nothing more comes.
std::string answers(const std::vector<std::string_view>& pieces,
                    const std::filesystem::path& root) {
  Connection c;
  std::string wire;
  for (const std::string_view piece : pieces) {
    if (!c.closing) c.in.append(piece);  // as serve() does: nothing read once closing
    while (true) {
      answer_requests(c, root);
      if (c.out.empty() && c.file_left == 0) break;
      wire += c.out;  // the socket takes it all
      c.out.clear();
      if (c.file_left > 0) read_piece(c);
    }
  }
  // The Date field says when, not what: take it out before comparing.
  for (std::size_t at = 0; (at = wire.find("\r\nDate: ", at)) != std::string::npos;)
    wire.erase(at + 2, wire.find("\r\n", at + 2) + 2 - (at + 2));
  return wire;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::filesystem::path root = make_root();
  if (size < 2) return 0;
  // The first byte chooses where to cut; the rest is the stream.
  const std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::vector<std::string_view> pieces;
  unsigned cut = data[0];
  for (std::size_t at = 0; at < stream.size();) {
    cut = cut * 1103515245U + 12345U;  // a small generator: pieces of 1 to 64 bytes
    const std::size_t length = 1 + (cut >> 16) % 64;
    pieces.push_back(stream.substr(at, length));
    at += length;
  }
  for (const auto& served_root : {std::filesystem::path(), root})
    if (answers({stream}, served_root) != answers(pieces, served_root)) __builtin_trap();
  return 0;
}
