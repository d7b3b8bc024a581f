// QueueITClient over a stub transport: the token and body it sends, headers it returns, and each
// kind of failure (a problem answer with Retry-After, a non-problem answer, no answer,
// cancellation).

import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import QueueITAPI
import XCTest

private final class StubTransport: QueueITTransport, @unchecked Sendable {
    typealias Answer = @Sendable (URLRequest) async throws -> (Data, HTTPURLResponse)
    private let lock = NSLock()
    private var _requests: [URLRequest] = []
    private let answer: Answer

    init(_ answer: @escaping Answer) { self.answer = answer }

    var requests: [URLRequest] { lock.withLock { _requests } }

    func send(_ request: URLRequest) async throws -> (Data, HTTPURLResponse) {
        lock.withLock { _requests.append(request) }
        return try await answer(request)
    }

    static func reply(_ status: Int, _ body: String, headers: [String: String] = [:]) -> StubTransport {
        StubTransport { request in
            let response = HTTPURLResponse(
                url: request.url!, statusCode: status, httpVersion: "HTTP/1.1",
                headerFields: headers)!
            return (Data(body.utf8), response)
        }
    }
}

private let base = URL(string: "https://api.queueit.invalid/")!
private let leave = #"{"session_id":"3f6c2a9e-8b1d-4c7a-9e2f-5a4b3c2d1e0f","session_ended":false}"#

final class QueueITClientTests: XCTestCase {
    func testSendsTheTokenAndBodyAndReturnsTheHeaders() async throws {
        let stub = StubTransport.reply(200, leave, headers: ["X-Request-ID": "req-1", "ETag": "x"])
        let client = QueueITClient(baseURL: base, tokenProvider: { "tok-1" }, transport: stub)
        let left = try await client.leaveSession()
        XCTAssertEqual(left.body.sessionEnded, false)
        XCTAssertEqual(left.status, 200)
        XCTAssertEqual(left.requestId, "req-1")
        XCTAssertEqual(left.header("etag"), "x")

        _ = try? await client.vote(UUID(uuidString: "5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c")!, .down)
        let sent = stub.requests
        XCTAssertEqual(sent.count, 2)
        XCTAssertEqual(sent[0].url?.absoluteString, "https://api.queueit.invalid/api/v1/sessions/leave")
        XCTAssertEqual(sent[0].httpMethod, "POST")
        XCTAssertEqual(sent[0].value(forHTTPHeaderField: "Authorization"), "Bearer tok-1")
        XCTAssertEqual(
            sent[1].url?.absoluteString.lowercased(),
            "https://api.queueit.invalid/api/v1/songs/5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c/vote")
        XCTAssertEqual(sent[1].value(forHTTPHeaderField: "Content-Type"), "application/json")
        let body = try JSONSerialization.jsonObject(with: sent[1].httpBody ?? Data()) as? [String: Int]
        XCTAssertEqual(body, ["vote_value": -1])
    }

    func testAProblemAnswerIsATypedServerError() async throws {
        let problem = #"{"type":"about:blank","title":"Too Many Requests","status":429,"detail":"Slow down.","code":"rate_limited","request_id":"req-9"}"#
        let stub = StubTransport.reply(
            429, problem, headers: ["Content-Type": "application/problem+json", "Retry-After": "7"])
        let client = QueueITClient(baseURL: base, tokenProvider: { nil }, transport: stub)
        do {
            _ = try await client.currentSession()
            XCTFail("a 429 must throw")
        } catch let QueueITError.server(error) {
            XCTAssertEqual(error.status, 429)
            XCTAssertEqual(error.code, .rateLimited)
            XCTAssertEqual(error.problem?.detail, "Slow down.")
            XCTAssertEqual(error.requestId, "req-9")
            XCTAssertEqual(error.retryAfter, 7)
        }
        XCTAssertNil(stub.requests[0].value(forHTTPHeaderField: "Authorization"))
    }

    func testANonProblemAnswerStillHasItsStatusAndRequestId() async throws {
        let stub = StubTransport.reply(502, "<html>bad gateway</html>", headers: ["X-Request-ID": "edge-1"])
        let client = QueueITClient(baseURL: base, tokenProvider: { "t" }, transport: stub)
        do {
            _ = try await client.currentSession()
            XCTFail("a 502 must throw")
        } catch let QueueITError.server(error) {
            XCTAssertEqual(error.status, 502)
            XCTAssertNil(error.problem)
            XCTAssertEqual(error.requestId, "edge-1")
            XCTAssertNil(error.retryAfter)
        }
    }

    func testRetryAfterAsAnHTTPDate() {
        let later = QueueITServerError.parseRetryAfter(
            "Wed, 21 Oct 2015 07:28:30 GMT", now: Date(timeIntervalSince1970: 1_445_412_480))
        XCTAssertEqual(later, 30)
    }

    func testNoAnswerIsATransportError() async throws {
        let stub = StubTransport { _ in throw URLError(.notConnectedToInternet) }
        let client = QueueITClient(baseURL: base, tokenProvider: { "t" }, transport: stub)
        do {
            _ = try await client.currentSession()
            XCTFail("no answer must throw")
        } catch let QueueITError.transport(error) {
            XCTAssertEqual((error as? URLError)?.code, .notConnectedToInternet)
        }
    }

    func testAnUndecodableSuccessIsNotAServerError() async throws {
        let stub = StubTransport.reply(200, #"{"unexpected":true}"#)
        let client = QueueITClient(baseURL: base, tokenProvider: { "t" }, transport: stub)
        do {
            _ = try await client.leaveSession()
            XCTFail("must throw")
        } catch QueueITError.undecodable(let status, _, _) {
            XCTAssertEqual(status, 200)
        }
    }

    func testCancellationPassesThroughUnchanged() async throws {
        let stub = StubTransport { _ in
            try await Task.sleep(nanoseconds: 10_000_000_000)  // throws CancellationError
            throw URLError(.timedOut)
        }
        let client = QueueITClient(baseURL: base, tokenProvider: { "t" }, transport: stub)
        let task = Task { try await client.currentSession() }
        try await Task.sleep(nanoseconds: 50_000_000)
        task.cancel()
        do {
            _ = try await task.value
            XCTFail("a cancelled call must throw")
        } catch {
            XCTAssertTrue(error is CancellationError, "\(error)")
        }
    }

    func testATokenProviderFailureIsReported() async throws {
        struct Expired: Error {}
        let stub = StubTransport.reply(200, leave)
        let client = QueueITClient(baseURL: base, tokenProvider: { throw Expired() }, transport: stub)
        do {
            _ = try await client.leaveSession()
            XCTFail("must throw")
        } catch QueueITError.invalidRequest(let why) {
            XCTAssertTrue(why.contains("token provider"), why)
        }
        XCTAssertTrue(stub.requests.isEmpty)
    }
}
