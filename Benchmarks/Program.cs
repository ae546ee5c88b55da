using System;
using BenchmarkDotNet.Running;

namespace ModelGen.Benchmarks;

/// <summary>
/// <c>dotnet run -c Release --project Benchmarks -- compare [--quick]</c> runs the comparison with PyTorch (see
/// <see cref="Compare"/>); <c>-- gpu [--device cuda:0] [--quick]</c> the GPU backend's figures (see <see cref="GpuBench"/>); any other arguments go to the BenchmarkDotNet suites, e.g. <c>-- --filter '*Gemm*'</c>
/// or <c>-- --list flat</c>.
/// </summary>
public static class Program
{
    /// <summary>Entry point.</summary>
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "compare")
            return Compare.Run(args[1..]);
        if (args.Length > 0 && args[0] == "profile")
            return StepProfile.Run(args[1..]);
        if (args.Length > 0 && args[0] == "gpu")
            return GpuBench.Run(args[1..]);
        if (args.Length > 0 && args[0] == "checks")
            return SafetyChecks.Run();
        if (args.Length > 0 && args[0] == "gemm")
            return GemmProbe.Run(args[1..]);
        if (args.Length > 0 && args[0] == "peak")
        {
            for (int t = 1; t <= Environment.ProcessorCount; t++)
                for (int r = 0; r < 3; r++)
                    Console.WriteLine($"fma_peak threads={t} {FmaPeak.Measure(t, 30_000_000):F1} GFLOP/s");
            return 0;
        }
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
