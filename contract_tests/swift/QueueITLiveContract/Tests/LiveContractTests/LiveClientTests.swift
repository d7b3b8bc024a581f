// The hand-written QueueITClient (tools/swift-support) against the live server, over the
// URLSession transport: a party by method name, headers on every answer, and a refusal as a
// typed QueueITError carrying the decoded Problem.

import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import QueueITAPI
import XCTest

final class LiveClientTests: XCTestCase {
    func testPartyWithQueueITClient() async throws {
        let base = try XCTUnwrap(URL(string: try Live.env("QUEUEIT_LIVE_BASE_URL")))
        let hostToken = try Live.env("QUEUEIT_LIVE_HOST_TOKEN")
        let guestToken = try Live.env("QUEUEIT_LIVE_GUEST_TOKEN")
        let host = QueueITClient(baseURL: base, tokenProvider: { hostToken })
        let guest = QueueITClient(baseURL: base, tokenProvider: { guestToken })

        let created = try await host.createSession()
        XCTAssertEqual(created.status, 200)
        XCTAssertNotNil(created.requestId)
        let joined = try await guest.joinSession(code: created.body.session.joinCode)
        XCTAssertEqual(joined.body.session.id, created.body.session.id)

        let found = try await guest.search("a", limit: 5)
        let track = try XCTUnwrap(found.body.tracks.first { $0.explicit != true })
        let added = try await guest.addSong(track)
        let voted = try await host.vote(added.body.id, .up)
        XCTAssertEqual(voted.body.voteValue, .up)
        let state = try await guest.currentSession()
        XCTAssertEqual(state.body.myVote(for: added.body.id), .up)  // the guest's own vote (my_votes)
        let mine = try await host.currentSession()
        XCTAssertEqual(mine.body.myVote(for: added.body.id), .up)
        XCTAssertEqual(mine.body.myVotesByEntry, [added.body.id: .up])

        _ = try await guest.leaveSession()
        do {
            _ = try await guest.currentSession()
            XCTFail("currentSession after leaving must throw")
        } catch let QueueITError.server(error) {
            XCTAssertEqual(error.status, 404)
            XCTAssertEqual(error.code, .notInSession)
            XCTAssertEqual(error.problem?.status, 404)
            XCTAssertFalse((error.requestId ?? "").isEmpty)
            XCTAssertEqual(error.requestId, error.headers["x-request-id"])
        }

        let noToken = QueueITClient(baseURL: base, tokenProvider: { nil })
        do {
            _ = try await noToken.currentSession()
            XCTFail("no token must be 401")
        } catch let QueueITError.server(error) {
            XCTAssertEqual(error.status, 401)
            XCTAssertEqual(error.code, .unauthorized)
        }

        let unreachable = QueueITClient(
            baseURL: URL(string: "http://127.0.0.1:9")!, tokenProvider: { hostToken })
        do {
            _ = try await unreachable.currentSession()
            XCTFail("a closed port must throw")
        } catch QueueITError.transport {
            // no answer: a transport failure, not a server error
        }

        let hostLeft = try await host.leaveSession()
        XCTAssertTrue(hostLeft.body.sessionEnded)
        print("QUEUEIT-LIVE-CLIENT-OK")
    }
}
