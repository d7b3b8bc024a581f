// Every JSON body the live server sent during the Python runs (schemathesis, the REST tour, the
// WebSocket party; written by contract_tests/test_contract_swift.py to QUEUEIT_LIVE_CAPTURED)
// decodes with the generated models — with the package's CodableHelper and with the app's plain
// `.iso8601` JSONDecoder.

import Foundation
import QueueITAPI
import XCTest

private struct Captured: Decodable {
    struct Body: Decodable {
        let id: String
        let type: String
        let raw: String
    }
    let bodies: [Body]
}

final class CapturedBodiesTests: XCTestCase {
    func testEveryCapturedBodyDecodes() throws {
        let path = try Live.env("QUEUEIT_LIVE_CAPTURED")
        let captured = try JSONDecoder().decode(
            Captured.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertFalse(captured.bodies.isEmpty, "nothing was captured")
        let decoders = [
            ("CodableHelper", CodableHelper().jsonDecoder),
            (".iso8601", Live.plainISO8601Decoder()),
        ]
        var decoded = 0
        for body in captured.bodies {
            let data = Data(body.raw.utf8)
            for (name, decoder) in decoders {
                do {
                    try decodeCaptured(type: body.type, data: data, decoder: decoder)
                    decoded += 1
                } catch {
                    XCTFail("\(body.id) does not decode as \(body.type) with \(name): \(error)\n\(body.raw.prefix(600))")
                }
            }
        }
        print("QUEUEIT-CAPTURED-DECODED \(decoded)")
    }
}
