using System.CommandLine;
using System.CommandLine.Parsing;
using System.Reflection;
using System.Text.RegularExpressions;

namespace PureLlama.Cli;

/// <summary>
/// Turns parse errors and exceptions into the one line a user reads: no .NET type names, no parameter names,
/// no stack frames. The messages of the library's own errors already name the file and the field; this only
/// strips what .NET appends to them and rewrites System.CommandLine's conversion errors in the user's terms.
/// </summary>
internal static partial class CliErrors
{
    // The library's option names (and subjects) that open its validation messages, and the flag that sets each.
    private static readonly (string Name, string Flag)[] s_optionFlags =
    [
        ("MicroBatchSize", "--batch-size"), ("MaxSeqLength", "--max-seq-length"), ("SequenceLength", "--max-seq-length"),
        ("VocabSize", "--vocab-size"), ("SpecialTokenCount", "--special-tokens"),
        ("BlockSize", "--block-size"), ("MaxBatchTokens", "--max-batch-tokens"), ("MaxRunningSequences", "--max-running"),
        ("MaxWaitingRequests", "--max-waiting"), ("MaxConcurrentRequests", "--max-concurrent"), ("MaxTokensLimit", "--max-tokens"),
        ("Port", "--port"), ("Host", "--host"), ("The context", "--context"), ("The stride", "--stride"),
    ];

    /// <summary>Parse errors of a command line as one line, pointing at the command's --help.</summary>
    public static string Describe(ParseResult parse)
    {
        var messages = parse.Errors.Select(e => Rewrite(e.Message).TrimEnd('.')).Distinct().ToList();
        if (messages.Count > 1) messages.RemoveAll(m => m.StartsWith("Required command was not provided", StringComparison.Ordinal));
        var names = new List<string>();
        for (var c = parse.CommandResult; c.Parent is CommandResult parent; c = parent) names.Insert(0, c.Command.Name);
        string help = string.Join(' ', ["purellama", .. names, "--help"]);
        return $"{string.Join("; ", messages)} ({help} lists the options)";
    }

    /// <summary>The message of <paramref name="e"/> (unwrapped from aggregate/invocation wrappers) as one line.</summary>
    public static string Line(Exception e)
    {
        e = Unwrap(e);
        string message = OneLine(e is System.Text.Json.JsonException json ? "not valid JSON: " + IO.StrictJson.Problem(json, withLine: true) : e.Message);
        if (e is ArgumentException) message = ParameterSuffix().Replace(message, "");
        if (e is ArgumentOutOfRangeException { ActualValue: { } actual } && Convert.ToString(actual, System.Globalization.CultureInfo.InvariantCulture) is { Length: > 0 } value
            && !Regex.IsMatch(message, $@"(?<![\d.]){Regex.Escape(value)}(?![\d])"))
            message = $"{message.TrimEnd('.')}, not {value}.";
        foreach (var (name, flag) in s_optionFlags)
            if (message.StartsWith(name + " ", StringComparison.Ordinal))
            {
                message = flag + message[name.Length..];
                break;
            }
        message = message.Replace("(set SkipInvalidLines ", "(pass --skip-invalid-lines ", StringComparison.Ordinal);
        return IsUserError(e) ? message : $"unexpected failure: {message} (please report it with the command line)";
    }

    /// <summary>Whether <paramref name="e"/> is an error the user's input causes (bad files, flags, values) rather than a bug.</summary>
    public static bool IsUserError(Exception e) => Unwrap(e) is PureLlamaException or ArgumentException or InvalidDataException or IOException
        or InvalidOperationException or UnauthorizedAccessException or FormatException or NotSupportedException
        or System.Text.Json.JsonException;

    private static Exception Unwrap(Exception e)
    {
        while (true)
        {
            switch (e)
            {
                case AggregateException { InnerExceptions.Count: 1 } a: e = a.InnerExceptions[0]; break;
                case TargetInvocationException { InnerException: { } inner }: e = inner; break;
                case TypeInitializationException { InnerException: { } inner }: e = inner; break;
                default: return e;
            }
        }
    }

    // "Actual value was 0." lines and line breaks go; the first line carries the message.
    private static string OneLine(string message) =>
        string.Join(' ', message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(l => !l.StartsWith("Actual value was", StringComparison.Ordinal)));

    private static string Rewrite(string message)
    {
        var m = CannotParse().Match(message);
        if (m.Success) return $"{m.Groups["symbol"].Value}: '{m.Groups["value"].Value}' is not {Kind(m.Groups["type"].Value)}";
        return TypeName().Replace(message, "a value");
    }

    private static string Kind(string typeName) => typeName switch
    {
        _ when typeName.Contains("Int", StringComparison.Ordinal) && typeName.Contains("UInt", StringComparison.Ordinal) => "a whole number ≥ 0",
        _ when typeName.Contains("Int", StringComparison.Ordinal) => "a whole number",
        _ when typeName.Contains("Single", StringComparison.Ordinal) || typeName.Contains("Double", StringComparison.Ordinal) || typeName.Contains("Decimal", StringComparison.Ordinal) => "a number",
        _ when typeName.Contains("Boolean", StringComparison.Ordinal) => "true or false",
        _ => "a valid value",
    };

    [GeneratedRegex(@"^Cannot parse argument '(?<value>.*)' for (option|command|argument) '(?<symbol>[^']+)' as expected type '(?<type>[^']+)'\.?$", RegexOptions.Singleline)]
    private static partial Regex CannotParse();

    [GeneratedRegex(@"'System\.[^']*'")]
    private static partial Regex TypeName();

    [GeneratedRegex(@"\s*\(Parameter '[^']*'\)")]
    private static partial Regex ParameterSuffix();
}
