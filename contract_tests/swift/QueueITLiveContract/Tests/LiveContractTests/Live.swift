// What the live tests share: the environment the pytest wrapper passes, an API configuration per
// user, and the check every response of the generated client goes through.

import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import QueueITAPI
import XCTest

struct LiveEnvironmentMissing: Error, CustomStringConvertible {
    let name: String
    var description: String {
        "\(name) is not set: run these tests through contract_tests/test_contract_swift.py"
    }
}

enum Live {
    static func env(_ name: String) throws -> String {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
            throw LiveEnvironmentMissing(name: name)
        }
        return value
    }

    /// An API configuration that calls the live server as the user of `token`.
    static func configuration(token: String) throws -> QueueITAPIAPIConfiguration {
        QueueITAPIAPIConfiguration(
            basePath: try env("QUEUEIT_LIVE_BASE_URL"),
            customHeaders: ["Authorization": "Bearer \(token)"],
            apiResponseQueue: DispatchQueue.global()
        )
    }

    /// The decoder the iOS app uses: stock JSONDecoder with `.iso8601` dates.
    static func plainISO8601Decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }

    /// A successful response of the generated client: 2xx, an X-Request-ID, and a body that
    /// also decodes with the app's plain `.iso8601` decoder.
    static func checked<T: Decodable>(
        _ response: Response<T>, _ what: String, file: StaticString = #filePath, line: UInt = #line
    ) throws -> T {
        XCTAssertTrue((200..<300).contains(response.statusCode), what, file: file, line: line)
        let requestId = response.header.first { $0.key.lowercased() == "x-request-id" }?.value
        XCTAssertNotNil(requestId, "\(what): no X-Request-ID", file: file, line: line)
        let data = try XCTUnwrap(response.bodyData, "\(what): no body", file: file, line: line)
        do {
            _ = try plainISO8601Decoder().decode(T.self, from: data)
        } catch {
            XCTFail("\(what): the body does not decode with .iso8601: \(error)", file: file, line: line)
        }
        return response.body
    }

    /// The problem body of a failed call, decoded with the generated model.
    static func problem(_ error: ErrorResponse) throws -> (Int, Problem) {
        guard case let .error(status, data, _, _) = error else { throw error }
        let body = try XCTUnwrap(data, "status \(status) without a body")
        return (status, try plainISO8601Decoder().decode(Problem.self, from: body))
    }
}
