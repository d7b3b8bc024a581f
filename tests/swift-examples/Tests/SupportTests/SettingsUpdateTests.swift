// SessionSettingsUpdate's three states on the wire: leave unchanged (no key), clear (`null`),
// set (the value); and back from JSON.

import Foundation
import QueueITAPI
import XCTest

final class SettingsUpdateTests: XCTestCase {
    private func wire(_ update: SessionSettingsUpdate) throws -> String {
        let encoder = CodableHelper().jsonEncoder
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(update), as: UTF8.self)
    }

    func testLeaveUnchangedSendsNothing() throws {
        XCTAssertEqual(try wire(SessionSettingsUpdate(queueLocked: true)), #"{"queue_locked":true}"#)
        XCTAssertEqual(try wire(SessionSettingsUpdate()), "{}")
    }

    func testClearSendsNull() throws {
        XCTAssertEqual(
            try wire(SessionSettingsUpdate(maxQueuedPerUser: .encodeNull)),
            #"{"max_queued_per_user":null}"#)
    }

    func testSetSendsTheValue() throws {
        XCTAssertEqual(
            try wire(SessionSettingsUpdate(maxQueuedPerUser: .encodeValue(4),
                                           maxTrackDurationMs: .encodeNull)),
            #"{"max_queued_per_user":4,"max_track_duration_ms":null}"#)
    }

    func testDecodingKeepsTheThreeStates() throws {
        let decoder = CodableHelper().jsonDecoder
        func read(_ json: String) throws -> SessionSettingsUpdate {
            try decoder.decode(SessionSettingsUpdate.self, from: Data(json.utf8))
        }
        XCTAssertEqual(try read("{}").maxQueuedPerUser, .encodeNothing)
        XCTAssertEqual(try read(#"{"max_queued_per_user":null}"#).maxQueuedPerUser, .encodeNull)
        XCTAssertEqual(try read(#"{"max_queued_per_user":7}"#).maxQueuedPerUser, .encodeValue(7))
        XCTAssertThrowsError(try read(#"{"max_queued_per_user":"seven"}"#))
    }
}
