import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

// Hand-written (not generated): `make generate` copies this file into the package.
// openapi-generator's swift6 client is a set of static `open class func`s taking a
// `QueueITAPIAPIConfiguration` (static headers, so no per-request token), with errors as raw
// `ErrorResponse` and headers only through `…WithRequestBuilder().execute()`. Its templates
// have no per-instance client, so this one object wraps it: the generated request builders
// still build every request (paths, query items, JSON bodies all come from the spec); the client
// adds the bearer token, sends through a small transport protocol (stub it in app tests), and
// maps answers to `QueueITResponse` / `QueueITError`.

/// Sends one HTTP request. Throws only when there is no HTTP answer.
public protocol QueueITTransport: Sendable {
    func send(_ request: URLRequest) async throws -> (Data, HTTPURLResponse)
}

/// The transport for apps: `URLSession` (Foundation's on Apple platforms, FoundationNetworking
/// on Linux).
public struct URLSessionTransport: QueueITTransport {
    public let session: URLSession

    public init(session: URLSession = .shared) {
        self.session = session
    }

    public func send(_ request: URLRequest) async throws -> (Data, HTTPURLResponse) {
        let (data, response) = try await session.data(for: request)
        guard let http = response as? HTTPURLResponse else {
            throw URLError(.badServerResponse)
        }
        return (data, http)
    }
}

/// A 2xx answer: the decoded body and the response headers.
public struct QueueITResponse<Body: Sendable>: Sendable {
    public let body: Body
    public let status: Int
    /// Response headers, keys lowercased.
    public let headers: [String: String]

    public func header(_ name: String) -> String? { headers[name.lowercased()] }
    public var requestId: String? { headers["x-request-id"] }
}

/// One object for the whole REST API: `QueueITClient(baseURL:tokenProvider:)`.
///
/// Every method throws `QueueITError`, or `CancellationError` when its task is cancelled.
/// `send` reaches any operation of the generated API:
/// `try await client.send { SessionsAPI.getHistoryWithRequestBuilder(sessionId: id, limit: 20, apiConfiguration: $0) }`.
public final class QueueITClient: Sendable {
    /// The caller's access token (a Supabase session's `accessToken`), asked for before every
    /// request so a refreshed token is used at once; nil sends no Authorization header.
    public typealias TokenProvider = @Sendable () async throws -> String?

    public let baseURL: URL
    let tokenProvider: TokenProvider  // the realtime feed asks it too
    private let transport: any QueueITTransport

    public init(
        baseURL: URL,
        tokenProvider: @escaping TokenProvider,
        transport: any QueueITTransport = URLSessionTransport()
    ) {
        self.baseURL = baseURL
        self.tokenProvider = tokenProvider
        self.transport = transport
    }

    // MARK: - Any operation

    public func send<T: Decodable & Sendable>(
        _ operation: (QueueITAPIAPIConfiguration) -> RequestBuilder<T>
    ) async throws -> QueueITResponse<T> {
        let helper = CodableHelper()
        let (data, status, headers) = try await perform(operation(configuration(helper)), helper)
        do {
            let body = try helper.jsonDecoder.decode(T.self, from: data)
            return QueueITResponse(body: body, status: status, headers: headers)
        } catch {
            throw QueueITError.undecodable(status: status, body: data, underlying: error)
        }
    }

    /// An operation without a response body (204).
    public func send(
        _ operation: (QueueITAPIAPIConfiguration) -> RequestBuilder<Void>
    ) async throws -> QueueITResponse<Void> {
        let helper = CodableHelper()
        let (_, status, headers) = try await perform(operation(configuration(helper)), helper)
        return QueueITResponse(body: (), status: status, headers: headers)
    }

    private func configuration(_ helper: CodableHelper) -> QueueITAPIAPIConfiguration {
        var base = baseURL.absoluteString
        while base.hasSuffix("/") { base.removeLast() }
        return QueueITAPIAPIConfiguration(basePath: base, codableHelper: helper)
    }

    private func perform<T>(
        _ builder: RequestBuilder<T>, _ helper: CodableHelper
    ) async throws -> (Data, Int, [String: String]) {
        try Task.checkCancellation()
        guard let url = URL(string: builder.URLString) else {
            throw QueueITError.invalidRequest("not a URL: \(builder.URLString)")
        }
        var request = URLRequest(url: url)
        request.httpMethod = builder.method
        for (name, value) in builder.headers { request.setValue(value, forHTTPHeaderField: name) }
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        let token: String?
        do {
            token = try await tokenProvider()
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw QueueITError.invalidRequest("the token provider failed: \(error)")
        }
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        request = JSONDataEncoding().encode(request: request, with: builder.parameters)

        let data: Data
        let response: HTTPURLResponse
        do {
            (data, response) = try await transport.send(request)
        } catch is CancellationError {
            throw CancellationError()
        } catch let error as URLError where error.code == .cancelled && Task.isCancelled {
            throw CancellationError()  // URLSession reports a cancelled task as URLError
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw QueueITError.transport(error)
        }
        var headers: [String: String] = [:]
        for (key, value) in response.allHeaderFields {
            if let key = key as? String, let value = value as? String {
                headers[key.lowercased()] = value
            }
        }
        guard (200..<300).contains(response.statusCode) else {
            throw QueueITError.server(QueueITServerError(
                status: response.statusCode, headers: headers, body: data,
                decoder: helper.jsonDecoder))
        }
        return (data, response.statusCode, headers)
    }
}

// MARK: - The operations an app uses most, by name

extension QueueITClient {
    public func createSession(_ request: CreateSessionRequest = CreateSessionRequest())
        async throws -> QueueITResponse<CurrentSessionResponse>
    {
        try await send { SessionsAPI.createSessionWithRequestBuilder(createSessionRequest: request, apiConfiguration: $0) }
    }

    public func joinSession(code: String) async throws -> QueueITResponse<CurrentSessionResponse> {
        try await send {
            SessionsAPI.joinSessionWithRequestBuilder(
                joinSessionRequest: JoinSessionRequest(joinCode: code), apiConfiguration: $0)
        }
    }

    public func currentSession() async throws -> QueueITResponse<CurrentSessionResponse> {
        try await send { SessionsAPI.getCurrentSessionWithRequestBuilder(apiConfiguration: $0) }
    }

    public func leaveSession() async throws -> QueueITResponse<LeaveSessionResponse> {
        try await send { SessionsAPI.leaveSessionWithRequestBuilder(apiConfiguration: $0) }
    }

    public func control(_ action: PlaybackAction) async throws -> QueueITResponse<CurrentSessionResponse> {
        try await send {
            SessionsAPI.controlSessionWithRequestBuilder(
                controlSessionRequest: ControlSessionRequest(action: action), apiConfiguration: $0)
        }
    }

    public func search(_ query: String, limit: Int? = nil) async throws -> QueueITResponse<SearchResponse> {
        try await send { SpotifyAPI.searchTracksWithRequestBuilder(q: query, limit: limit, apiConfiguration: $0) }
    }

    public func addSong(_ track: Track) async throws -> QueueITResponse<QueuedSong> {
        let request = AddSongRequest(
            id: track.id, isrc: track.isrc, name: track.name, artists: track.artists,
            album: track.album, durationMs: track.durationMs, imageUrl: track.imageUrl,
            explicit: track.explicit)
        return try await send { SongsAPI.addSongWithRequestBuilder(addSongRequest: request, apiConfiguration: $0) }
    }

    public func vote(_ entryID: UUID, _ value: VoteValue) async throws -> QueueITResponse<VoteResponse> {
        try await send {
            SongsAPI.voteOnSongWithRequestBuilder(
                id: entryID, voteRequest: VoteRequest(voteValue: value), apiConfiguration: $0)
        }
    }

    public func events(session: UUID, since: Int64, limit: Int? = nil) async throws -> QueueITResponse<EventsPage> {
        try await send {
            RealtimeAPI.getSessionEventsWithRequestBuilder(
                sessionId: session, since: since, limit: limit, apiConfiguration: $0)
        }
    }

    public func updateSettings(session: UUID, _ update: SessionSettingsUpdate)
        async throws -> QueueITResponse<SessionSettings>
    {
        try await send {
            ModerationAPI.updateSessionSettingsWithRequestBuilder(
                sessionId: session, sessionSettingsUpdate: update, apiConfiguration: $0)
        }
    }
}
