// The realtime types generated from asyncapi/queueit.yaml: server frames by `type` (unknown
// ones kept), client frames, and the close codes with what a client should do.

import Foundation
import QueueITAPI
import XCTest

final class RealtimeTypesTests: XCTestCase {
    private let decoder = CodableHelper().jsonDecoder

    private func frame(_ json: String) throws -> RealtimeServerMessage {
        try decoder.decode(RealtimeServerMessage.self, from: Data(json.utf8))
    }

    func testServerFramesDecodeByType() throws {
        guard case .ping(let ping) = try frame(#"{"type":"ping","at":"2025-11-22T10:35:20Z"}"#) else {
            return XCTFail("ping")
        }
        XCTAssertNotNil(ping.at)
        guard case .pong = try frame(#"{"type":"pong"}"#) else { return XCTFail("pong") }
        guard case .error(let error) = try frame(
            #"{"type":"error","code":"malformed_message","detail":"The frame is not valid JSON."}"#)
        else { return XCTFail("error") }
        XCTAssertEqual(error.code, .malformedMessage)
        let event = try frame("""
            {"type":"votes_updated","seq":42,"session_id":"3f6c2a9e-8b1d-4c7a-9e2f-5a4b3c2d1e0f",
             "created_at":"2025-11-22T10:35:02Z",
             "data":{"queued_song_id":"5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c","total_votes":5}}
            """)
        guard case .event(let votes) = event else { return XCTFail("event: \(event)") }
        XCTAssertEqual(votes.seq, 42)
        XCTAssertFalse(votes.isUnknown)
        XCTAssertEqual(RealtimeServerMessage.eventTypes.count, 12)
    }

    func testUnknownFramesAreKept() throws {
        guard case .unknown(let raw) = try frame(#"{"type":"confetti","amount":3}"#) else {
            return XCTFail("a new frame type must be .unknown")
        }
        XCTAssertEqual(raw, .dictionary(["type": .string("confetti"), "amount": .int(3)]))
        // A malformed ping is kept too, not thrown.
        guard case .unknown = try frame(#"{"type":"ping","at":12}"#) else { return XCTFail("ping") }
    }

    func testClientFramesEncode() throws {
        let encoder = CodableHelper().jsonEncoder
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(RealtimeClientMessage.pong(PongMessage(type: .pong)))
        XCTAssertEqual(String(decoding: data, as: UTF8.self), #"{"type":"pong"}"#)
    }

    func testCloseCodesSayWhatToDo() {
        XCTAssertEqual(RealtimeCloseCode(rawValue: 4010), .kicked)
        XCTAssertEqual(RealtimeCloseCode.kicked.action, .stop)
        // 1000's action is the spec's `none`, named `.nothing` so that it cannot be mistaken
        // for Optional.none: an optional action compared with `.none` means nil, not this.
        XCTAssertEqual(RealtimeCloseCode.normalClosure.action, .nothing)
        XCTAssertEqual(RealtimeCloseAction.nothing.rawValue, "none")
        let unset: RealtimeCloseAction? = nil
        XCTAssertNotEqual(unset, RealtimeCloseAction.nothing)
        XCTAssertEqual(RealtimeCloseCode.kicked.meaning, "kicked from the session")
        XCTAssertEqual(RealtimeCloseCode(rawValue: 4001).action, .refreshToken)
        XCTAssertTrue(RealtimeCloseCode(rawValue: 4001).action.reconnects)
        XCTAssertEqual(RealtimeCloseCode(rawValue: 1001).action, .reconnect)
        XCTAssertEqual(RealtimeCloseCode(rawValue: 1011).action, .reconnectWithBackoff)
        XCTAssertEqual(RealtimeCloseCode(rawValue: 4013), .sessionEnded)
        XCTAssertFalse(RealtimeCloseCode.sessionEnded.action.reconnects)
        XCTAssertEqual(RealtimeCloseCode(rawValue: 4999), .unknown(4999))
        XCTAssertEqual(RealtimeCloseCode(rawValue: 4999).action, .stop)
        XCTAssertEqual(RealtimeCloseCode(rawValue: 1013).action, .reconnectWithBackoff)
        XCTAssertEqual(RealtimeCloseCode(rawValue: 4002), .tokenExpired)
        XCTAssertEqual(RealtimeCloseCode.tokenExpired.action, .refreshToken)
        XCTAssertEqual(RealtimeCloseCode(rawValue: 4029), .tooManyConnections)
        XCTAssertEqual(RealtimeCloseCode.tooManyConnections.action, .reconnectWithBackoff)
        XCTAssertEqual(RealtimeCloseCode.allCases.count, 18)
    }
}
