// Swift cannot find a type by its name: the captured bodies name their component schema and this
// switch decodes them. A type the switch does not know fails the test (add it here).

import Foundation
import QueueITAPI

struct UnknownCapturedType: Error {
    let type: String
}

struct UnknownEventType: Error {
    let raw: String
}

func decodeCaptured(type: String, data: Data, decoder: JSONDecoder) throws {
    switch type {
    case "CurrentSessionResponse": _ = try decoder.decode(CurrentSessionResponse.self, from: data)
    case "EventsPage":
        let page = try decoder.decode(EventsPage.self, from: data)
        for event in page.events where event.isUnknown {
            throw UnknownEventType(raw: String(decoding: data, as: UTF8.self))
        }
    case "Health": _ = try decoder.decode(Health.self, from: data)
    case "HistoryResponse": _ = try decoder.decode(HistoryResponse.self, from: data)
    case "LeaveSessionResponse": _ = try decoder.decode(LeaveSessionResponse.self, from: data)
    case "Liveness": _ = try decoder.decode(Liveness.self, from: data)
    case "Member": _ = try decoder.decode(Member.self, from: data)
    case "MembersResponse": _ = try decoder.decode(MembersResponse.self, from: data)
    case "Problem": _ = try decoder.decode(Problem.self, from: data)
    case "QueuedSong": _ = try decoder.decode(QueuedSong.self, from: data)
    case "SearchResponse": _ = try decoder.decode(SearchResponse.self, from: data)
    case "SessionSettings": _ = try decoder.decode(SessionSettings.self, from: data)
    case "SkipVoteResponse": _ = try decoder.decode(SkipVoteResponse.self, from: data)
    case "VoteResponse": _ = try decoder.decode(VoteResponse.self, from: data)
    // Socket messages (asyncapi/queueit.yaml)
    case "SnapshotMessage": _ = try decoder.decode(SnapshotMessage.self, from: data)
    case "PingMessage": _ = try decoder.decode(PingMessage.self, from: data)
    case "PongMessage": _ = try decoder.decode(PongMessage.self, from: data)
    case "ErrorMessage": _ = try decoder.decode(ErrorMessage.self, from: data)
    case "SessionEvent":
        if try decoder.decode(SessionEvent.self, from: data).isUnknown {
            throw UnknownEventType(raw: String(decoding: data, as: UTF8.self))
        }
    case "SongAddedEvent": _ = try decoder.decode(SongAddedEvent.self, from: data)
    case "SongRemovedEvent": _ = try decoder.decode(SongRemovedEvent.self, from: data)
    case "VotesUpdatedEvent": _ = try decoder.decode(VotesUpdatedEvent.self, from: data)
    case "PlaybackChangedEvent": _ = try decoder.decode(PlaybackChangedEvent.self, from: data)
    case "SkipVotesUpdatedEvent": _ = try decoder.decode(SkipVotesUpdatedEvent.self, from: data)
    case "MemberJoinedEvent": _ = try decoder.decode(MemberJoinedEvent.self, from: data)
    case "MemberLeftEvent": _ = try decoder.decode(MemberLeftEvent.self, from: data)
    case "MemberKickedEvent": _ = try decoder.decode(MemberKickedEvent.self, from: data)
    case "MemberRoleChangedEvent": _ = try decoder.decode(MemberRoleChangedEvent.self, from: data)
    case "SettingsChangedEvent": _ = try decoder.decode(SettingsChangedEvent.self, from: data)
    case "SessionEndingEvent": _ = try decoder.decode(SessionEndingEvent.self, from: data)
    case "SessionEndedEvent": _ = try decoder.decode(SessionEndedEvent.self, from: data)
    default: throw UnknownCapturedType(type: type)
    }
    // A socket frame also decodes as the realtime type generated from asyncapi/queueit.yaml,
    // and as a known case of it.
    let frames: Set<String> = ["SnapshotMessage", "PingMessage", "PongMessage", "ErrorMessage",
                               "SessionEvent"]
    if frames.contains(type) || (type.hasSuffix("Event") && type != "SessionEvent") {
        let frame = try decoder.decode(RealtimeServerMessage.self, from: data)
        if case .unknown = frame { throw UnknownEventType(raw: String(decoding: data, as: UTF8.self)) }
        if case .event(let event) = frame, event.isUnknown || event.seq == nil {
            throw UnknownEventType(raw: String(decoding: data, as: UTF8.self))
        }
    }
}
