import Foundation
import QueueITAPI
import XCTest

/// Every problem code has a message for people (the spec's `x-messages`), and QueueITError
/// is a LocalizedError that shows it: an app needs no table of its own.
final class ErrorMessagesTests: XCTestCase {
    private func serverError(status: Int, code: String?) -> QueueITServerError {
        var problem: [String: Any] = [
            "type": "https://queueit.app/problems/x", "title": "T", "status": status,
            "detail": "developer text", "request_id": "abc123",
        ]
        if let code { problem["code"] = code }
        let body = try! JSONSerialization.data(withJSONObject: problem)
        return QueueITServerError(
            status: status, headers: ["content-type": "application/problem+json"], body: body,
            decoder: JSONDecoder())
    }

    func testEveryCodeHasAMessage() throws {
        for code in ProblemCode.allCases {
            let message = try XCTUnwrap(code.message, "\(code.rawValue) has no message")
            XCTAssertFalse(message.trimmingCharacters(in: .whitespaces).isEmpty, code.rawValue)
        }
        XCTAssertNil(ProblemCode(rawValue: "from_a_newer_server").message)
    }

    func testTheErrorShowsTheCodesMessage() {
        let error = QueueITError.server(serverError(status: 403, code: "queue_locked"))
        XCTAssertEqual(error.localizedDescription, ProblemCode.queueLocked.message)
        XCTAssertEqual(
            error.errorDescription, "The host has locked the queue: no songs can be added for now.")
    }

    func testAnUnknownCodeGoesByTheStatus() {
        let unknown = serverError(status: 429, code: "from_a_newer_server")
        XCTAssertEqual(unknown.message, ProblemCode.rateLimited.message)
        let notAProblem = QueueITServerError(
            status: 502, headers: [:], body: Data("<html>".utf8), decoder: JSONDecoder())
        XCTAssertEqual(notAProblem.message, ProblemCode.internalError.message)
    }

    func testTransportFailuresHaveAMessageToo() {
        let offline = QueueITError.transport(URLError(.notConnectedToInternet))
        XCTAssertEqual(
            offline.errorDescription,
            "No connection to the party server. Check the network and try again.")
    }
}
