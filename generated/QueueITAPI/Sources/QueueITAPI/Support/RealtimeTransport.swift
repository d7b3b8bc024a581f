//
// RealtimeTransport.swift
//
// DO NOT EDIT. Copied by `make generate` (tools/gen_swift.py); edit the source.
// Source: tools/swift-support/RealtimeTransport.swift (hand-written, not generated)
//
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

// Hand-written (not generated): `make generate` copies this file into the package.
// The realtime socket behind a small protocol, so `PartyFeed` (the client logic) is the same
// whatever carries the frames: `URLSessionWebSocketTransport` in apps; on Linux, where
// FoundationNetworking cannot open WebSockets, the contract job plugs in a relay process that
// still talks to the live server over a real socket (contract_tests/swift).

/// Opens realtime sockets.
public protocol RealtimeTransport: Sendable {
    /// Open a WebSocket for `request` (its URL and headers, e.g. `Authorization`).
    func connect(_ request: URLRequest) async throws -> any RealtimeConnection
}

/// One open realtime socket: text frames in and out.
public protocol RealtimeConnection: Sendable {
    func send(_ text: String) async throws
    /// The next text frame. Throws `RealtimeSocketClosed` once the socket is closed (by either
    /// side, or dropped), and `CancellationError` when the task is cancelled.
    func receive() async throws -> String
    /// Close with `code` (1000: normal). Safe to call more than once.
    func close(code: Int) async
}

/// The socket closed. `code` is the server's close code, nil when the connection dropped
/// without a close frame (network lost, relay killed, server gone).
public struct RealtimeSocketClosed: Error, Sendable, Hashable {
    public let code: Int?
    public let reason: String

    public init(code: Int?, reason: String = "") {
        self.code = code
        self.reason = reason
    }
}

/// `URLSessionWebSocketTask`: the transport for apps (iOS 13+, macOS 10.15+).
public struct URLSessionWebSocketTransport: RealtimeTransport {
    public let session: URLSession

    public init(session: URLSession = .shared) {
        self.session = session
    }

    public func connect(_ request: URLRequest) async throws -> any RealtimeConnection {
        let task = session.webSocketTask(with: request)
        // Frames are at most 16 KiB from the client; a snapshot of a big party is larger.
        task.maximumMessageSize = 8 * 1024 * 1024
        task.resume()
        return URLSessionWebSocketConnection(task: task)
    }
}

final class URLSessionWebSocketConnection: RealtimeConnection, @unchecked Sendable {
    // URLSessionWebSocketTask is thread-safe; it is not marked Sendable in every SDK.
    private let task: URLSessionWebSocketTask

    init(task: URLSessionWebSocketTask) {
        self.task = task
    }

    func send(_ text: String) async throws {
        do {
            try await task.send(.string(text))
        } catch {
            throw closed(error)
        }
    }

    func receive() async throws -> String {
        let message: URLSessionWebSocketTask.Message
        do {
            message = try await withTaskCancellationHandler {
                try await task.receive()
            } onCancel: { [task] in
                task.cancel(with: .goingAway, reason: nil)
            }
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw closed(error)
        }
        switch message {
        case .string(let text):
            return text
        case .data(let data):
            return String(decoding: data, as: UTF8.self)
        @unknown default:
            throw RealtimeSocketClosed(code: nil, reason: "unknown WebSocket message")
        }
    }

    func close(code: Int) async {
        let closeCode = URLSessionWebSocketTask.CloseCode(rawValue: code) ?? .normalClosure
        task.cancel(with: closeCode, reason: nil)
    }

    private func closed(_ error: Error) -> RealtimeSocketClosed {
        // `closeCode.rawValue` carries the server's own codes (4000-4999) too; 0 (`.invalid`)
        // means no close frame arrived.
        let raw = task.closeCode.rawValue
        let reason = task.closeReason.map { String(decoding: $0, as: UTF8.self) } ?? "\(error)"
        return RealtimeSocketClosed(code: raw == 0 ? nil : raw, reason: reason)
    }
}
