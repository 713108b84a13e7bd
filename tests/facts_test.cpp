// tests/facts_test.cpp — every Fact and Tip of the talk, as a test that runs.
//
// Each test uses the plain socket calls on loopback, so it reads as a small
// experiment: do this, and the system answers that.
#include "tests/support/harness.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

// A connected pair of TCP sockets on 127.0.0.1: {client side, server side}.
std::pair<net::Socket, net::Socket> connected_pair(int family = AF_INET) {
  net::Socket listener{::socket(family, SOCK_STREAM, 0)};
  sockaddr_storage address{};
  socklen_t length = 0;
  if (family == AF_INET6) {
    auto& v6 = reinterpret_cast<sockaddr_in6&>(address);
    v6.sin6_family = AF_INET6;
    v6.sin6_addr = in6addr_loopback;
    length = sizeof v6;
  } else {
    auto& v4 = reinterpret_cast<sockaddr_in&>(address);
    v4.sin_family = AF_INET;
    v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    length = sizeof v4;
  }
  EXPECT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&address), length), 0);
  EXPECT_EQ(::listen(listener.get(), 1), 0);
  EXPECT_EQ(::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&address), &length), 0);
  net::Socket client{::socket(family, SOCK_STREAM, 0)};
  EXPECT_EQ(::connect(client.get(), reinterpret_cast<sockaddr*>(&address), length), 0);
  EXPECT_TRUE(harness::wait_readable(listener.get(), harness::Clock::now() + harness::kPatience));
  net::Socket server{::accept(listener.get(), nullptr, nullptr)};
  return {std::move(client), std::move(server)};
}

long receive(const net::Socket& s, std::string& into) {
  EXPECT_TRUE(harness::wait_readable(s.get(), harness::Clock::now() + harness::kPatience));
  char buffer[1024];
  const auto n = ::recv(s.get(), buffer, static_cast<int>(sizeof buffer), 0);
  into.assign(buffer, n > 0 ? static_cast<std::size_t>(n) : 0);
  return n;
}

}  // namespace

// Fact: "When a recv returns 0 bytes, it means the other side has closed the
// connection. You will not receive any more data on this connection. Ever."
// region: recv-returns-zero
TEST(Facts, RecvReturnsZeroOnceThePeerHasClosedAndKeepsReturningZero) {
  auto [client, server] = connected_pair();
  ASSERT_EQ(::send(server.get(), "bye", 3, 0), 3);
  server.reset();  // shutdown + close
  std::string data;
  EXPECT_EQ(receive(client, data), 3);  // what was sent before the close still arrives
  EXPECT_EQ(data, "bye");
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(receive(client, data), 0) << "read " << i;
}
// endregion

// Fact: "... You may be able to send data successfully" — until the peer's
// system answers with a reset; then send fails with an error code. With the
// header's Startup, that error is all that happens: no SIGPIPE kills us.
TEST(Facts, SendingToAClosedPeerFailsWithAnErrorAndNoSignal) {
  const net::Startup startup;
  auto [client, server] = connected_pair();
  server.reset();
  std::string data;
  ASSERT_EQ(receive(client, data), 0);
  long sent = 0;
  int attempts = 0;
  while ((sent = ::send(client.get(), "x", 1, 0)) > 0 && ++attempts < 1000) {
    harness::wait_readable(client.get(), harness::Clock::now() + harness::kPatience);
  }
  EXPECT_EQ(sent, -1);
  const int error = net::last_error();
#ifdef _WIN32
  EXPECT_TRUE(error == WSAECONNRESET || error == WSAECONNABORTED || error == WSAESHUTDOWN)
      << net::error_text(error);
#else
  EXPECT_TRUE(error == EPIPE || error == ECONNRESET) << net::error_text(error);
#endif
}

// Fact: "There is no EOT on a socket." Two sends may arrive as one recv (and
// one send as several): where a message ends is the application's business.
// region: no-eot
TEST(Facts, TwoSendsCanArriveInOneRecvSoFramingIsTheApplicationsJob) {
  auto [client, server] = connected_pair();
  ASSERT_EQ(::send(client.get(), "hello", 5, 0), 5);
  ASSERT_EQ(::send(client.get(), "world", 5, 0), 5);
  client.reset();  // everything has been sent once the close is seen
  std::string data;
  // Wait until both sends are surely waiting in the buffer (peeking leaves them there).
  const auto deadline = harness::Clock::now() + harness::kPatience;
  char peek[16];
  while (harness::wait_readable(server.get(), deadline) &&
         ::recv(server.get(), peek, sizeof peek, MSG_PEEK) < 10 &&
         harness::Clock::now() < deadline) {
  }
  EXPECT_EQ(receive(server, data), 10);
  EXPECT_EQ(data, "helloworld");
}
// endregion

// Tip: shutdown() before close(). Shutting down the write side (a half-close)
// tells the peer "that is all" — its recv returns 0 — while we can still read
// its answer.
// region: shutdown-before-close
TEST(Facts, ShutdownOfTheWriteSideLetsThePeerReadTheEndWhileItCanStillAnswer) {
  auto [client, server] = connected_pair();
  ASSERT_EQ(::send(client.get(), "question", 8, 0), 8);
  ASSERT_EQ(::shutdown(client.get(), SHUT_WR), 0);
  std::string data;
  EXPECT_EQ(receive(server, data), 8);
  EXPECT_EQ(receive(server, data), 0);  // the end of the client's side
  ASSERT_EQ(::send(server.get(), "answer", 6, 0), 6);
  EXPECT_EQ(receive(client, data), 6);
  EXPECT_EQ(data, "answer");
}
// endregion

// The talk: socket.AF_INET.value is 2, socket.SOCK_STREAM.value is 1 — the
// same numbers C uses, because Python's socket module is a thin layer over it.
// region: af-inet
TEST(Facts, AfInetIsTwoAndSockStreamIsOne) {
  EXPECT_EQ(AF_INET, 2);
  EXPECT_EQ(SOCK_STREAM, 1);
  EXPECT_EQ(SOCK_DGRAM, 2);  // UDP; the families and types are separate numberings
  EXPECT_NE(AF_INET6, AF_INET);
  EXPECT_EQ(AF_UNSPEC, 0);
}
// endregion

// "Use AF_INET6 for IPv6": and an IPv6 socket with IPV6_V6ONLY off accepts
// IPv4 clients too, seen as ::ffff:127.0.0.1 (dual stack), where allowed.
TEST(Facts, ADualStackIpv6SocketAcceptsAnIpv4Client) {
  net::Socket listener{::socket(AF_INET6, SOCK_STREAM, 0)};
  if (!listener) GTEST_SKIP() << "no IPv6 here";
  const int off = 0;
  ASSERT_EQ(::setsockopt(listener.get(), IPPROTO_IPV6, IPV6_V6ONLY,
                         reinterpret_cast<const char*>(&off), sizeof off),
            0);
  sockaddr_in6 any{};
  any.sin6_family = AF_INET6;
  any.sin6_addr = in6addr_any;
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&any), sizeof any), 0);
  ASSERT_EQ(::listen(listener.get(), 1), 0);
  socklen_t length = sizeof any;
  ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&any), &length);
  auto client = harness::connect_to(ntohs(any.sin6_port), "127.0.0.1");
  sockaddr_storage peer{};
  socklen_t peer_length = sizeof peer;
  ASSERT_TRUE(harness::wait_readable(listener.get(), harness::Clock::now() + harness::kPatience));
  net::Socket accepted{::accept(listener.get(), reinterpret_cast<sockaddr*>(&peer), &peer_length)};
  ASSERT_TRUE(accepted);
  EXPECT_EQ(peer.ss_family, AF_INET6);
  char text[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6&>(peer).sin6_addr, text, sizeof text);
  EXPECT_STREQ(text, "::ffff:127.0.0.1");
  // The lessons write such a peer the IPv4 way, as the contract asks.
  EXPECT_EQ(net::to_string(peer), "127.0.0.1:" + std::to_string(client.local_port()));
}

// Tip: "You don't always need a client-server case": name resolution.
TEST(Facts, LocalhostResolvesToALoopbackAddress) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  ASSERT_EQ(::getaddrinfo("localhost", nullptr, &hints, &found), 0);
  bool loopback = false;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    if (a->ai_family == AF_INET)
      loopback |=
          ntohl(reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr.s_addr) == INADDR_LOOPBACK;
    if (a->ai_family == AF_INET6)
      loopback |= IN6_IS_ADDR_LOOPBACK(&reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr);
  }
  ::freeaddrinfo(found);
  EXPECT_TRUE(loopback);
}

// Fact: "The default port for web communication is port 80."
// region: port-80
TEST(Facts, TheServiceHttpIsPort80) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_family = AF_INET;
  addrinfo* found = nullptr;
  ASSERT_EQ(::getaddrinfo(nullptr, "http", &hints, &found), 0) << "is /etc/services there?";
  EXPECT_EQ(ntohs(reinterpret_cast<sockaddr_in*>(found->ai_addr)->sin_port), 80);
  ::freeaddrinfo(found);
}
// endregion

// SOCK_DGRAM keeps message boundaries: two datagrams are two recvs, never one.
TEST(Facts, UdpKeepsMessageBoundaries) {
  net::Socket receiver{::socket(AF_INET, SOCK_DGRAM, 0)};
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(receiver.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  socklen_t length = sizeof address;
  ::getsockname(receiver.get(), reinterpret_cast<sockaddr*>(&address), &length);
  net::Socket sender{::socket(AF_INET, SOCK_DGRAM, 0)};
  for (const char* message : {"hello", "world"})
    ASSERT_EQ(::sendto(sender.get(), message, 5, 0, reinterpret_cast<sockaddr*>(&address),
                       sizeof address),
              5);
  std::string data;
  EXPECT_EQ(receive(receiver, data), 5);
  EXPECT_EQ(data, "hello");
  EXPECT_EQ(receive(receiver, data), 5);
  EXPECT_EQ(data, "world");
}
