// tests/fuzz/find_file.cpp — libFuzzer target: poll_server's find_file (connection.hpp).
//
// poll_server.cpp is compiled in whole (its main renamed by -Dmain=...), so
// the function fuzzed is the lesson's own, not a copy. A temporary --root
// holds a few files, a symlink inside and two pointing out; next to it lies
// a secret. Any target at all goes to find_file: a file it opens must lie
// under root — reading the secret through it is a crash.
#include "spoon4-webserver/poll_server.cpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace {

const std::string secret = "SECRET-OUTSIDE-ROOT";

std::filesystem::path make_root() {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("find-file-fuzz-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "www" / "sub");
  fs::create_directories(dir / "www2");
  std::ofstream(dir / "secret.txt") << secret;
  std::ofstream(dir / "www2" / "x.txt") << secret;  // a sibling whose name starts like root's
  std::ofstream(dir / "www" / "index.html") << "home";
  std::ofstream(dir / "www" / "sub" / "ok.txt") << "ok";
  std::ofstream(dir / "www" / "a b.txt") << "spaced";
  std::error_code ignored;
  fs::create_symlink(dir / "secret.txt", dir / "www" / "link-out.txt", ignored);
  fs::create_directory_symlink(dir, dir / "www" / "dir-out", ignored);
  fs::create_symlink(dir / "www" / "sub" / "ok.txt", dir / "www" / "link-in.txt", ignored);
  return fs::canonical(dir / "www");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::filesystem::path root = make_root();
  File file = find_file(root, std::string_view(reinterpret_cast<const char*>(data), size));
  if (file.status != 200 && file.status != 400 && file.status != 403 && file.status != 404)
    __builtin_trap();
  if (!file.stream || !file.stream->is_open()) return 0;
  const std::string content{std::istreambuf_iterator<char>(*file.stream), {}};
  if (content.find(secret) != std::string::npos) __builtin_trap();  // escaped from root
  if (content.size() != file.size) __builtin_trap();
  return 0;
}
