// spoon4-webserver/curl_client.cpp — Spoon 4: the same client, with libcurl.
//
// The talk's Tip: "for making requests, just use the requests library". In
// C++ the library is libcurl (what curl itself is made of). client.cpp did the
// URL, getaddrinfo, connect, the request, the status line, the fields and the
// three ways a body ends by hand; here libcurl does all that — and HTTPS,
// redirects, proxies, compression and connection reuse, had we asked.
//
// Try it:  ./workshop run spoon4-webserver/poll_server --root spoon4-webserver
//          ./workshop run spoon4-webserver/curl_client --include http://127.0.0.1:8888/README.md
//          ./workshop run spoon4-webserver/curl_client https://example.com/
// Copied out, it builds with one more library: g++ -std=c++20 curl_client.cpp -lfmt -pthread -lcurl
#include "common/cli.hpp"
#include "common/net.hpp"

#include <curl/curl.h>
#include <fmt/core.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

// libcurl hands us the body (with --include, the head first) piece by piece
// as it comes; we write each piece out unchanged. Fewer bytes than given
// back tells libcurl to stop.
std::size_t write_piece(char* piece, std::size_t /*one*/, std::size_t size, void* /*user*/) {
  return std::fwrite(piece, 1, size, stdout) == size && std::fflush(stdout) == 0 ? size : 0;
}

int main(int argc, char** argv) {
  cli::Options options(
      argc, argv,
      "usage: curl_client [--include] [--head] [--timeout SECONDS] URL\n"
      "Sends one HTTP GET to URL (http:// or https://) with libcurl and writes\n"
      "the body to standard output, unchanged.\n"
      "  --include          the status line and fields first\n"
      "  --head             send HEAD instead: the head alone (shown, as curl -I)\n"
      "  --timeout SECONDS  give up when the whole response has not come\n"
      "                     that long after starting (default 30)\n"
      "Exits 0 on any complete response (a 404 too), 1 when none came.\n");
  const bool head_only = options.flag("--head");
  const bool include = options.flag("--include") || head_only;
  const double timeout = options.seconds("--timeout", 30);
  const std::vector<std::string> urls = options.rest();
  if (urls.size() != 1)
    options.bad(urls.empty() ? "curl_client needs a URL: curl_client http://HOST[:PORT]/PATH"
                             : "curl_client takes one URL");
  const std::string& url = urls[0];
  const net::Startup startup;

  // region: curl
  curl_global_init(CURL_GLOBAL_DEFAULT);
  // region: check-url
  // The URL first, so that a bad one is a bad command line, before anything connects.
  const std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> parsed(curl_url(), curl_url_cleanup);
  if (const CURLUcode rc = curl_url_set(parsed.get(), CURLUPART_URL, url.c_str(), 0);
      rc != CURLUE_OK)
    options.bad(fmt::format("'{}' is not a URL: {}", url, curl_url_strerror(rc)));
  const auto part = [&](CURLUPart which, unsigned int flags) {  // libcurl's text, copied and freed
    char* text = nullptr;
    if (curl_url_get(parsed.get(), which, &text, flags) != CURLUE_OK) return std::string();
    std::string copy = text;
    curl_free(text);
    return copy;
  };
  if (const std::string scheme = part(CURLUPART_SCHEME, 0); scheme != "http" && scheme != "https")
    options.bad(fmt::format("'{}' is not an http:// or https:// URL", url));
  const std::string where =
      fmt::format("{}:{}", part(CURLUPART_HOST, 0), part(CURLUPART_PORT, CURLU_DEFAULT_PORT));
  // endregion
  const std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(),
                                                                 curl_easy_cleanup);
  if (!curl) cli::fail_because("out of memory", "curl_easy_init");
  char reason[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(curl.get(), CURLOPT_CURLU, parsed.get());
  curl_easy_setopt(curl.get(), CURLOPT_NOBODY, head_only ? 1L : 0L);  // HEAD
  curl_easy_setopt(curl.get(), CURLOPT_HEADER, include ? 1L : 0L);    // the head to write_piece too
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, write_piece);
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS, static_cast<long>(timeout * 1000));
  curl_easy_setopt(curl.get(), CURLOPT_ERRORBUFFER, reason);
  const CURLcode result = curl_easy_perform(curl.get());  // resolve, connect, send, receive
  // endregion

  if (result == CURLE_COULDNT_CONNECT) {  // in the contract's words, as client.cpp says it
    long os_error = 0;
    curl_easy_getinfo(curl.get(), CURLINFO_OS_ERRNO, &os_error);
    cli::fail_because(net::error_text(static_cast<int>(os_error)),
                      fmt::format("cannot connect to {}", where));
  }
  if (result != CURLE_OK)
    cli::fail_because(reason[0] != '\0' ? reason : curl_easy_strerror(result),
                      fmt::format("cannot get {}", url));
  return 0;
}
