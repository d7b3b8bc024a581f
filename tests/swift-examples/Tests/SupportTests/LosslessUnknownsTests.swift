// Values from a newer server survive: an unknown enum value keeps its raw value and re-encodes
// unchanged, `allCases` lists only the spec's values, an unknown event keeps its JSON (seq and
// type stay readable), and one malformed event does not fail the rest of an EventsPage.

import Foundation
import QueueITAPI
import XCTest

final class LosslessUnknownsTests: XCTestCase {
    private let decoder = CodableHelper().jsonDecoder

    private func json<T: Encodable>(_ value: T) throws -> String {
        let encoder = CodableHelper().jsonEncoder
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    func testUnknownEnumValuesKeepTheirRawValue() throws {
        let state = try decoder.decode([PlaybackState].self, from: Data(#"["playing","buffering"]"#.utf8))
        XCTAssertEqual(state, [.playing, .unknown("buffering")])
        XCTAssertTrue(state[1].isUnknown)
        XCTAssertEqual(state[1].rawValue, "buffering")
        XCTAssertEqual(try json(state), #"["playing","buffering"]"#)
        XCTAssertEqual(PlaybackState.allCases, [.stopped, .playing, .paused])
    }

    func testVoteValueHasReadableCasesAndKeepsUnknownNumbers() throws {
        XCTAssertEqual(VoteValue.allCases, [.down, .withdraw, .up])
        XCTAssertEqual(VoteValue.up.rawValue, 1)
        let votes = try decoder.decode([VoteValue].self, from: Data("[-1,0,1,2]".utf8))
        XCTAssertEqual(votes, [.down, .withdraw, .up, .unknown(2)])
        XCTAssertEqual(try json(votes), "[-1,0,1,2]")
    }

    private let songAdded = """
        {"type":"song_added","seq":7,"session_id":"3f6c2a9e-8b1d-4c7a-9e2f-5a4b3c2d1e0f",
         "created_at":"2025-11-22T10:35:00Z","data":{"queued_song":%@}}
        """
    private let futureEvent = """
        {"type":"lights_dimmed","seq":8,"session_id":"3f6c2a9e-8b1d-4c7a-9e2f-5a4b3c2d1e0f",
         "created_at":"2025-11-22T10:35:01Z","data":{"level":3}}
        """

    func testAnUnknownEventKeepsItsJSONAndEnvelope() throws {
        let event = try decoder.decode(SessionEvent.self, from: Data(futureEvent.utf8))
        XCTAssertTrue(event.isUnknown)
        XCTAssertEqual(event.seq, 8)
        XCTAssertEqual(event.type, "lights_dimmed")
        XCTAssertEqual(event.sessionId, UUID(uuidString: "3f6c2a9e-8b1d-4c7a-9e2f-5a4b3c2d1e0f"))
        XCTAssertEqual(event.createdAt, Date(timeIntervalSince1970: 1_763_807_701))
        let again = try JSONSerialization.jsonObject(with: Data(try json(event).utf8)) as? NSDictionary
        let sent = try JSONSerialization.jsonObject(with: Data(futureEvent.utf8)) as? NSDictionary
        XCTAssertEqual(again, sent)  // re-encodes as sent, not as null
    }

    func testOneMalformedEventDoesNotFailThePage() throws {
        let malformed = String(format: songAdded, #"{"id":"not-a-uuid"}"#)
        let page = """
            {"session_id":"3f6c2a9e-8b1d-4c7a-9e2f-5a4b3c2d1e0f","latest_seq":9,"has_more":false,
             "snapshot":null,"events":[\(malformed),\(futureEvent),
             {"type":"votes_updated","seq":9,"session_id":"3f6c2a9e-8b1d-4c7a-9e2f-5a4b3c2d1e0f",
              "created_at":"2025-11-22T10:35:02Z",
              "data":{"queued_song_id":"5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c","total_votes":5}}]}
            """
        let decoded = try decoder.decode(EventsPage.self, from: Data(page.utf8))
        XCTAssertEqual(decoded.events.map(\.seq), [7, 8, 9])  // seq tracking survives
        XCTAssertEqual(decoded.events.map(\.isUnknown), [true, true, false])
        XCTAssertEqual(decoded.events[0].type, "song_added")  // known type, changed shape
        guard case .typeVotesUpdatedEvent(let votes) = decoded.events[2] else {
            return XCTFail("votes_updated should decode: \(decoded.events[2])")
        }
        XCTAssertEqual(votes.data.totalVotes, 5)
    }
}
