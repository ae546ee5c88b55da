using System;
using System.Globalization;
using ModelGen.Runtime.Tests.Serialization;

namespace ModelGen.Runtime.Tests;

/// <summary>
/// The test assembly's entry point, unused by the test runner: tests that need other processes start
/// <c>dotnet ModelGen.Runtime.Tests.dll &lt;command&gt; ...</c> (see <see cref="SaveWorker"/>).
/// </summary>
public static class TestProgram
{
    public static int Main(string[] args)
    {
        if (args.Length == 4 && args[0] == SaveWorker.Command)
            return SaveWorker.Run(args[1], int.Parse(args[2], CultureInfo.InvariantCulture), int.Parse(args[3], CultureInfo.InvariantCulture));
        Console.Error.WriteLine($"usage: {SaveWorker.Command} <path> <writer> <saves>");
        return 2;
    }
}
