using BenchmarkDotNet.Running;

namespace ModelGen.Benchmarks;

/// <summary>Runs the BenchmarkDotNet suites: <c>dotnet run -c Release --project Benchmarks -- --filter '*'</c>.</summary>
public static class Program
{
    /// <summary>Entry point.</summary>
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
