using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Reflection;
using System.Text.Unicode;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.AspNetCore.Server;
using Grpc.Core;
using Grpc.Net.Compression;
using Herald.ApiService.Problems;
using Microsoft.Extensions.Options;

namespace Herald.ApiService.Grpc;

/// <summary>
/// The gRPC side of <see cref="StorableInputFilter"/>: every string field of a request must be storable text (UTF-8
/// without NUL). Google.Protobuf refuses a string that is not UTF-8 while Grpc.AspNetCore reads the request — before
/// any interceptor, so Grpc.AspNetCore answers UNKNOWN — and lets NUL through to PostgreSQL. So the request message is
/// checked here first, against its descriptor, and refused with INVALID_ARGUMENT naming the field (or, if it is not
/// protobuf at all, saying so). Unary and server-streaming calls, all Herald serves, send one request message.
/// </summary>
internal sealed class StorableGrpcRequests(RequestDelegate next, IOptions<GrpcServiceOptions> grpcOptions)
{
    private const int HeaderSize = 5;
    private readonly ConcurrentDictionary<IMethod, MessageDescriptor?> _requests = new();

    public async Task InvokeAsync(HttpContext context)
    {
        if (context.GetEndpoint()?.Metadata.GetMetadata<GrpcMethodMetadata>() is { Method.Type: MethodType.Unary or MethodType.ServerStreaming } grpc
            && _requests.GetOrAdd(grpc.Method, RequestDescriptor) is { } descriptor
            && await CheckAsync(context, descriptor) is { } refusal)
        {
            await ProblemResponses.WriteAsync(context, refusal);
            return;
        }
        await next(context);
    }

    /// <summary>Looks at the request message without consuming it, so the gRPC handler reads it as sent.</summary>
    private async Task<ApiError?> CheckAsync(HttpContext context, MessageDescriptor descriptor)
    {
        var body = context.Request.BodyReader;
        while (true)
        {
            var read = await body.ReadAsync(context.RequestAborted);
            var buffer = read.Buffer;
            if (!TryGetMessage(buffer, out var compressed, out var message) && !read.IsCompleted)
            {
                body.AdvanceTo(buffer.Start, buffer.End);
                continue;
            }
            try
            {
                // An incomplete or oversized frame, or one in an encoding not served: gRPC's own reading answers it.
                if (message is not { } frame) return null;
                if (compressed)
                {
                    if (Decompress(context, frame) is not { } decompressed) return null;
                    frame = decompressed;
                }
                return Check(frame, descriptor);
            }
            catch (InvalidDataException)
            {
                return NotProtobuf();
            }
            finally
            {
                body.AdvanceTo(buffer.Start);
            }
        }
    }

    private bool TryGetMessage(ReadOnlySequence<byte> buffer, out bool compressed, out ReadOnlySequence<byte>? message)
    {
        (compressed, message) = (false, null);
        if (buffer.Length < HeaderSize) return false;
        Span<byte> header = stackalloc byte[HeaderSize];
        buffer.Slice(0, HeaderSize).CopyTo(header);
        compressed = header[0] == 1;
        var length = BinaryPrimitives.ReadUInt32BigEndian(header[1..]);
        if (header[0] > 1 || length > (uint)(grpcOptions.Value.MaxReceiveMessageSize ?? int.MaxValue)) return true;
        if (buffer.Length < HeaderSize + length) return false;
        message = buffer.Slice(HeaderSize, length);
        return true;
    }

    /// <summary>Null when gRPC will refuse the message anyway; throws <see cref="InvalidDataException"/> when it does
    /// not decompress.</summary>
    private ReadOnlySequence<byte>? Decompress(HttpContext context, ReadOnlySequence<byte> message)
    {
        var encoding = context.Request.Headers["grpc-encoding"].ToString();
        if (grpcOptions.Value.CompressionProviders.FirstOrDefault(p => p.EncodingName == encoding) is not { } provider) return null;
        // No further than the size gRPC accepts: a message that inflates beyond it is gRPC's to refuse.
        var limit = grpcOptions.Value.MaxReceiveMessageSize ?? int.MaxValue;
        using var decompressed = new MemoryStream();
        using var stream = provider.CreateDecompressionStream(new MemoryStream(message.ToArray()));
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = stream.Read(chunk)) > 0)
        {
            if (decompressed.Length + read > limit) return null;
            decompressed.Write(chunk, 0, read);
        }
        return new ReadOnlySequence<byte>(decompressed.GetBuffer(), 0, (int)decompressed.Length);
    }

    private static ApiError? Check(ReadOnlySequence<byte> message, MessageDescriptor descriptor)
    {
        byte[]? rented = null;
        try
        {
            ReadOnlySpan<byte> wire;
            if (message.IsSingleSegment) wire = message.FirstSpan;
            else
            {
                rented = ArrayPool<byte>.Shared.Rent((int)message.Length);
                message.CopyTo(rented);
                wire = rented.AsSpan(0, (int)message.Length);
            }
            return ProtobufText.FindUnstorable(wire, descriptor) switch
            {
                null => null,
                ProtobufText.Malformed => NotProtobuf(),
                var field => ApiError.Invalid(field, StorableText.Rule),
            };
        }
        finally
        {
            if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private static ApiError NotProtobuf() => new(ApiErrorKind.Validation, "The request is not a valid protobuf message.");

    // Every generated message type has a static Descriptor property.
    private static MessageDescriptor? RequestDescriptor(IMethod method) =>
        method.GetType().GetGenericArguments().FirstOrDefault()?.GetProperty("Descriptor", BindingFlags.Public | BindingFlags.Static)?.GetValue(null) as MessageDescriptor;
}

/// <summary>Walks a protobuf message's wire format, checking each string field it knows as protobuf would read it.</summary>
internal static class ProtobufText
{
    public const string Malformed = "";

    // Google.Protobuf's default: a message nested deeper is refused.
    private const int RecursionLimit = 100;

    /// <summary>The first string field (a dotted path of proto field names) that is not UTF-8 without NUL; <see
    /// cref="Malformed"/> when <paramref name="wire"/> is not a protobuf message; null when all is well.</summary>
    public static string? FindUnstorable(ReadOnlySpan<byte> wire, MessageDescriptor descriptor) =>
        Walk(ref wire, descriptor, "", 0, endGroup: null);

    private static string? Walk(ref ReadOnlySpan<byte> wire, MessageDescriptor? descriptor, string path, int depth, uint? endGroup)
    {
        if (depth > RecursionLimit) return Malformed;
        while (!wire.IsEmpty)
        {
            if (!TryReadVarint(ref wire, out var tag) || tag > uint.MaxValue || tag >> 3 == 0) return Malformed;
            var field = descriptor?.FindFieldByNumber((int)(tag >> 3));
            switch (WireFormat.GetTagWireType((uint)tag))
            {
                case WireFormat.WireType.Varint:
                    if (!TryReadVarint(ref wire, out _)) return Malformed;
                    break;
                case WireFormat.WireType.Fixed64:
                case WireFormat.WireType.Fixed32:
                    var size = WireFormat.GetTagWireType((uint)tag) == WireFormat.WireType.Fixed64 ? 8 : 4;
                    if (wire.Length < size) return Malformed;
                    wire = wire[size..];
                    break;
                case WireFormat.WireType.LengthDelimited:
                    if (!TryReadVarint(ref wire, out var length) || length > (ulong)wire.Length) return Malformed;
                    var value = wire[..(int)length];
                    wire = wire[(int)length..];
                    if (field?.FieldType == FieldType.String && (!Utf8.IsValid(value) || value.Contains((byte)0)))
                        return Name(path, field);
                    if (field?.FieldType == FieldType.Message && Walk(ref value, field.MessageType, Name(path, field), depth + 1, endGroup: null) is { } nested)
                        return nested;
                    break;
                case WireFormat.WireType.StartGroup:
                    // No Herald message has groups; protobuf skips one as an unknown field, and so does this walk.
                    if (Walk(ref wire, null, path, depth + 1, endGroup: WireFormat.MakeTag((int)(tag >> 3), WireFormat.WireType.EndGroup)) is { } inGroup)
                        return inGroup;
                    break;
                case WireFormat.WireType.EndGroup:
                    return tag == endGroup ? null : Malformed;
                default:
                    return Malformed;
            }
        }
        return endGroup is null ? null : Malformed;
    }

    // A map's entries are messages of key and value: the path names the map.
    private static string Name(string path, FieldDescriptor field) =>
        field.ContainingType.IsMapEntry ? path : path.Length == 0 ? field.Name : $"{path}.{field.Name}";

    private static bool TryReadVarint(ref ReadOnlySpan<byte> wire, out ulong value)
    {
        value = 0;
        for (var i = 0; i < 10 && i < wire.Length; i++)
        {
            value |= (ulong)(wire[i] & 0x7F) << (7 * i);
            if (wire[i] < 0x80)
            {
                wire = wire[(i + 1)..];
                return true;
            }
        }
        return false;
    }
}
