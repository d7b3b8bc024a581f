// A party through the generated URLSession client, as the iOS app would run it: create, join,
// search, add, vote, current, leave — every response decoded with the generated models and
// with the app's plain `.iso8601` JSONDecoder, and an error decoded as a Problem.

import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import QueueITAPI
import XCTest

final class LivePartyTests: XCTestCase {
    func testPartyWithTheGeneratedClient() async throws {
        let host = try Live.configuration(token: try Live.env("QUEUEIT_LIVE_HOST_TOKEN"))
        let guest = try Live.configuration(token: try Live.env("QUEUEIT_LIVE_GUEST_TOKEN"))

        let created = try Live.checked(
            try await SessionsAPI.createSessionWithRequestBuilder(
                createSessionRequest: CreateSessionRequest(), apiConfiguration: host
            ).execute(), "createSession")
        XCTAssertEqual(created.myRole, .host)
        XCTAssertEqual(created.session.status, .active)
        XCTAssertNil(created.session.endedAt)
        XCTAssertLessThan(abs(created.session.createdAt.timeIntervalSinceNow), 600)

        let joined = try Live.checked(
            try await SessionsAPI.joinSessionWithRequestBuilder(
                joinSessionRequest: JoinSessionRequest(joinCode: created.session.joinCode.lowercased()),
                apiConfiguration: guest
            ).execute(), "joinSession")
        XCTAssertEqual(joined.session.id, created.session.id)
        XCTAssertEqual(joined.myRole, .guest)
        XCTAssertEqual(joined.session.memberCount, 2)

        let found = try Live.checked(
            try await SpotifyAPI.searchTracksWithRequestBuilder(
                q: "a", limit: 10, apiConfiguration: guest
            ).execute(), "searchTracks")
        let track = try XCTUnwrap(found.tracks.first { $0.explicit != true }, "search found nothing")

        let added = try Live.checked(
            try await SongsAPI.addSongWithRequestBuilder(
                addSongRequest: AddSongRequest(
                    id: track.id, isrc: track.isrc, name: track.name, artists: track.artists,
                    album: track.album, durationMs: track.durationMs, imageUrl: track.imageUrl,
                    explicit: track.explicit),
                apiConfiguration: guest
            ).execute(), "addSong")
        XCTAssertEqual(added.status, .queued)
        XCTAssertEqual(added.song.id, track.id)

        let voted = try Live.checked(
            try await SongsAPI.voteOnSongWithRequestBuilder(
                id: added.id, voteRequest: VoteRequest(voteValue: .up), apiConfiguration: host
            ).execute(), "voteOnSong")
        XCTAssertEqual(voted.queuedSongId, added.id)
        XCTAssertEqual(voted.voteValue, .up)

        let current = try Live.checked(
            try await SessionsAPI.getCurrentSessionWithRequestBuilder(apiConfiguration: guest)
                .execute(), "getCurrentSession")
        XCTAssertEqual(current.session.id, created.session.id)
        XCTAssertEqual(current.queue.first?.id, added.id)
        XCTAssertEqual(current.queue.first?.votes, voted.totalVotes)
        XCTAssertGreaterThanOrEqual(current.seq, created.seq)

        let left = try Live.checked(
            try await SessionsAPI.leaveSessionWithRequestBuilder(apiConfiguration: guest).execute(),
            "leaveSession")
        XCTAssertEqual(left.sessionId, created.session.id)
        XCTAssertFalse(left.sessionEnded)

        do {
            _ = try await SessionsAPI.getCurrentSession(apiConfiguration: guest)
            XCTFail("getCurrentSession after leaving should be 404")
        } catch {
            let (status, problem) = try Live.problem(error)
            XCTAssertEqual(status, 404)
            XCTAssertEqual(problem.status, 404)
            XCTAssertEqual(problem.code, .notInSession)
            XCTAssertFalse(problem.requestId.isEmpty)
        }

        let hostLeft = try Live.checked(
            try await SessionsAPI.leaveSessionWithRequestBuilder(apiConfiguration: host).execute(),
            "leaveSession (host)")
        XCTAssertTrue(hostLeft.sessionEnded)
        print("QUEUEIT-LIVE-PARTY-OK")
    }
}
