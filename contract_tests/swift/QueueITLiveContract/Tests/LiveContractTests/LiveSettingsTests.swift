// Three-way settings update against the live server: a field left `.encodeNothing` keeps its
// value, `.encodeNull` clears it, `.encodeValue` sets it (`x-null-encodable` in the spec).

import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import QueueITAPI
import XCTest

final class LiveSettingsTests: XCTestCase {
    func testLeaveUnchangedSetAndClear() async throws {
        let host = try Live.configuration(token: try Live.env("QUEUEIT_LIVE_HOST_TOKEN"))
        let created = try Live.checked(
            try await SessionsAPI.createSessionWithRequestBuilder(
                createSessionRequest: CreateSessionRequest(
                    settings: SessionSettingsUpdate(maxQueuedPerUser: .encodeValue(3))),
                apiConfiguration: host
            ).execute(), "createSession with a cap")
        XCTAssertEqual(created.settings.maxQueuedPerUser, 3)
        let id = created.session.id

        func update(_ change: SessionSettingsUpdate, _ what: String) async throws -> SessionSettings {
            try Live.checked(
                try await ModerationAPI.updateSessionSettingsWithRequestBuilder(
                    sessionId: id, sessionSettingsUpdate: change, apiConfiguration: host
                ).execute(), what)
        }

        // Leave unchanged: only allow_downvotes is sent; the cap stays.
        let unchanged = try await update(SessionSettingsUpdate(allowDownvotes: false), "unchanged")
        XCTAssertEqual(unchanged.maxQueuedPerUser, 3)
        XCTAssertEqual(unchanged.allowDownvotes, false)
        // Set.
        let set = try await update(
            SessionSettingsUpdate(maxQueuedPerUser: .encodeValue(5)), "set")
        XCTAssertEqual(set.maxQueuedPerUser, 5)
        // Clear: `null` goes on the wire and the cap is gone.
        let cleared = try await update(SessionSettingsUpdate(maxQueuedPerUser: .encodeNull), "clear")
        XCTAssertNil(cleared.maxQueuedPerUser)
        XCTAssertEqual(cleared.allowDownvotes, false)

        let read = try Live.checked(
            try await ModerationAPI.getSessionSettingsWithRequestBuilder(
                sessionId: id, apiConfiguration: host
            ).execute(), "getSessionSettings")
        XCTAssertNil(read.maxQueuedPerUser)

        _ = try Live.checked(
            try await SessionsAPI.leaveSessionWithRequestBuilder(apiConfiguration: host).execute(),
            "leaveSession")
        print("QUEUEIT-LIVE-SETTINGS-OK")
    }
}
