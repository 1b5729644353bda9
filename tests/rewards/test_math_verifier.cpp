// Labelled verifier cases, table-driven: each row is (answer, gold, expected). Right AND wrong answers in
// every category, the wrong ones chosen to look close (sign, off by one, another fraction, a different
// interval end, the last digit of a big integer). Conventions: verifier-anchors.md §6.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "rewards/math_equivalence.h"
#include "rewards/math_verifier.h"

namespace r1::rewards {
namespace {

struct Case {
  const char* answer;
  const char* gold;
  bool equal;
};

std::string case_name(const testing::TestParamInfo<Case>& info) {
  return std::string(info.param.equal ? "right_" : "wrong_") + std::to_string(info.index);
}

class MathVerifier : public testing::TestWithParam<Case> {};

TEST_P(MathVerifier, AnswerMatchesGoldAsLabelled) {
  const Case& c = GetParam();
  math::Equivalence eq = math::compare_answers(c.answer, c.gold);
  EXPECT_EQ(eq.equal, c.equal) << "answer: " << c.answer << "\ngold:   " << c.gold << "\nreason: " << eq.reason;
  // The public entry point agrees with the internal comparison.
  EXPECT_EQ(answers_equivalent(c.answer, c.gold), c.equal);
}

const Case kIntegers[] = {
    {"42", "42", true},
    {"025", "25", true},
    {"-42", "42", false},
    {"41", "42", false},
    {"43", "42", false},
    {"123456789012345678901234567890", "123456789012345678901234567890", true},
    {"123456789012345678901234567891", "123456789012345678901234567890", false},
    {"1234567890123456789012345678901", "1234567890123456789012345678902", false},
    {"1,234", "1234", true},
    {"1{,}234", "1234", true},
    {"1,\\!234", "1234", true},
    {"1\\,234", "1234", true},
    {"10,\\!080", "10080", true},
    {"11,\\! 111,\\! 111,\\! 100", "11111111100", true},
    {"58,500", "58500", true},
    {"2, 125", "2125", false},
    {"2.125", "2125", false},
    {"1,235", "1234", false},
    {"0", "-0", true},
    {"100", "1000", false},
};
INSTANTIATE_TEST_SUITE_P(Integers, MathVerifier, testing::ValuesIn(kIntegers), case_name);

const Case kDecimalsAndFractions[] = {
    {"18.00", "18", true},
    {"18.0", "18", true},
    {"18.01", "18", false},
    {".5", "0.5", true},
    {"0.5", "\\frac12", true},
    {"\\frac{1}{2}", "0.5", true},
    {"0.50", "1/2", true},
    {"0.0000627", "0.0000672", false},
    {".0000672", "6.72\\times10^{-5}", true},
    {"6.72e-5", ".0000672", true},
    {"6.72 \\cdot 10^{-5}", ".0000672", true},
    {"6.27 \\times 10^{-5}", ".0000672", false},
    {"4.67", "\\frac{14}{3}", false},
    {"4.6667", "\\frac{14}{3}", false},
    {"4.666666667", "\\frac{14}{3}", true},
    {"\\frac{2}{4}", "\\frac12", true},
    {"\\frac{1}{3}", "\\frac12", false},
    {"\\frac{3}{2}", "\\frac{2}{3}", false},
    {"-\\frac{24}{25}", "\\frac{24}{25}", false},
    {"\\frac{-24}{25}", "-\\frac{24}{25}", true},
    {"-0.96", "-\\frac{24}{25}", true},
    {"0.96", "-\\frac{24}{25}", false},
    {"\\frac{96}{24}", "4", true},
    {"9\\cdot 2", "18", true},
    {"1/2", "\\frac{1}{2}", true},
    {"\\dfrac{17}{50}", "0.34", true},
    {"\\tfrac{17}{50}", "\\frac{17}{50}", true},
    {"\\frac{17}{51}", "\\dfrac{17}{50}", false},
    {"\\frac 34", "0.75", true},
    {"\\frac9{19}", "\\frac{9}{19}", true},
    {"\\frac{9}{91}", "\\frac9{19}", false},
    {"0.333333333", "\\frac13", true},
    {"0.33", "\\frac13", false},
    {".35625", "\\frac{57}{160}", true},
    {"0.35626", ".35625", false},
    {"326.5", "\\frac{653}{2}", true},
    {"\\frac{448}{15625}", "0.028672", true},
    {"\\frac{448}{15625}", "0.028673", false},
};
INSTANTIATE_TEST_SUITE_P(DecimalsAndFractions, MathVerifier, testing::ValuesIn(kDecimalsAndFractions), case_name);

const Case kMixedNumbers[] = {
    {"137\\frac12", "137.5", true},
    {"137 \\frac{1}{2}", "\\frac{275}{2}", true},
    {"137\\frac12", "68.5", false},
    {"1\\frac{4}{5}", "1.8", true},
    {"1\\frac{4}{5}", "\\frac{4}{5}", false},
    {"-2\\frac{1}{2}", "-2.5", true},
    {"2\\frac{1}{2}", "-2.5", false},
    {"137 \\frac{1}{2}", "137 \\frac{1}{3}", false},
};
INSTANTIATE_TEST_SUITE_P(MixedNumbers, MathVerifier, testing::ValuesIn(kMixedNumbers), case_name);

const Case kUnitsPercentMoney[] = {
    {"20\\%", "20", true},
    {"20%", "20", true},
    {"20 percent", "20", true},
    {"0.2", "20", false},
    {"21\\%", "20", false},
    {"\\$18.90", "18.90", true},
    {"18.9", "\\$18.90", true},
    {"18.09", "\\$18.90", false},
    {"\\$32,\\!348", "32348", true},
    {"32,348 dollars", "\\$32,\\!348", true},
    {"\\$32,\\!349", "32348", false},
    {"30^\\circ", "30", true},
    {"30^{\\circ}", "30", true},
    {"30\xC2\xB0", "30", true},
    {"30 degrees", "30^\\circ", true},
    {"\\frac{\\pi}{6}", "30^\\circ", false},
    {"31^\\circ", "30", false},
    {"5.4 \\text{ cents}", "5.4", true},
    {"5.4", "5.4 \\text{ cents}", true},
    {"5.5", "5.4 \\text{ cents}", false},
    {"15 \\text{ cm}^2", "15\\mbox{ cm}^2", true},
    {"15", "15\\mbox{ cm}^2", true},
    {"864", "864 \\mbox{ inches}^2", true},
    {"846", "864 \\mbox{ inches}^2", false},
    {"\\frac{270}{7}", "\\frac{270}7\\text{ degrees}", true},
    {"38.57", "\\frac{270}7\\text{ degrees}", false},
    {"12 inches", "12", true},
    {"13 inches", "12", false},
    {"\\textbf{5}", "5", true},
    {"\\mathrm{5}", "5", true},
};
INSTANTIATE_TEST_SUITE_P(UnitsPercentMoney, MathVerifier, testing::ValuesIn(kUnitsPercentMoney), case_name);

const Case kEquations[] = {
    {"x = 5", "5", true},
    {"5", "x=5", true},
    {"x=6", "x=5", false},
    {"y = 5", "x=5", false},
    {"x = -5", "5", false},
    {"y = 2x + 3", "2x+3", true},
    {"2x+3", "y = 2x + 3", true},
    {"y = 2x - 3", "y = 2x + 3", false},
    {"y=3+2x", "y = 2x + 3", true},
    {"y = -2x", "y = -2x", true},
    {"y = 2x", "y = -2x", false},
    {"-5x + 7y - 11z - 4 = 0", "5x - 7y + 11z + 4 = 0", true},
    {"5x - 7y + 11z = -4", "5x - 7y + 11z + 4 = 0", true},
    {"5x - 7y + 11z - 4 = 0", "5x - 7y + 11z + 4 = 0", false},
    {"5x + 7y + 11z + 4 = 0", "5x - 7y + 11z + 4 = 0", false},
    {"k = \\frac{1}{2}", "\\frac12", true},
    {"a+2z = 2z+a = 101", "101", true},
    {"D = (0,1)", "D = (0,1.5)", false},
};
INSTANTIATE_TEST_SUITE_P(Equations, MathVerifier, testing::ValuesIn(kEquations), case_name);

const Case kSymbolic[] = {
    {"\\sqrt{117}", "3\\sqrt{13}", true},
    {"\\frac{1}{\\sqrt3}", "\\frac{\\sqrt3}{3}", true},
    {"\\sqrt{116}", "3\\sqrt{13}", false},
    {"2\\sqrt{13}", "3\\sqrt{13}", false},
    {"\\sqrt[3]{8}", "2", true},
    {"\\sqrt[3]{9}", "2", false},
    {"\\sqrt{242}", "11\\sqrt2", true},
    {"\\frac{3}{4}\\sqrt{3}", "\\frac{3\\sqrt{3}}{4}", true},
    {"\\frac{3}{4}\\sqrt{2}", "\\frac{3\\sqrt{3}}{4}", false},
    {"4\\sqrt(2)", "4", false},
    {"4\\sqrt(2)", "4\\sqrt{2}", true},
    {"\\sqrt{2}+1", "\\frac{1}{\\sqrt{2}-1}", true},
    {"288 \\pi", "288\\pi", true},
    {"2\\pi+18", "18+2\\pi", true},
    {"18+\\pi", "18+2\\pi", false},
    {"20000/\\pi", "\\frac{20000}{\\pi}", true},
    {"3.14", "\\pi", false},
    {"3.14159265358979", "\\pi", true},
    {"904.78", "288 \\pi", false},
    {"-\\frac{\\pi}{6}", "-\\frac{\\pi}{6}", true},
    {"\\frac{\\pi}{6}", "-\\frac{\\pi}{6}", false},
    {"\\frac{5\\pi^2}{4}", "\\frac{5}{4}\\pi^2", true},
    {"(x+1)^2", "x^2+2x+1", true},
    {"(x-1)^2", "x^2+2x+1", false},
    {"2(3r^2-2r-12)", "6r^2-4r-24", true},
    {"6r^2-4r+24", "6r^2-4r-24", false},
    {"ab+2a+5b+10", "(a+5)(b+2)", true},
    {"(a+2)(b+5)", "(a+5)(b+2)", false},
    {"(x-1)(x^4+x^2+1)", "x^5 - x^4 + x^3 - x^2 + x - 1", true},
    {"x^5 - x^4 + x^3 - x^2 + x + 1", "x^5 - x^4 + x^3 - x^2 + x - 1", false},
    {"3-13x", "-13x+3", true},
    {"5(3x-16)", "15x - 80", true},
    {"8n^2+4n-1", "8n^2 + 4n + 1", false},
    {"2(k+1)", "2k+2", true},
    {"3r^2", "3R^2", false},
    {"-q+p", "p - q", true},
    {"q-p", "p - q", false},
    {"\\frac{\\cos x}{\\sin x}", "\\cot x", true},
    {"\\tan x", "\\cot x", false},
    {"\\frac{11}{20}+\\frac{9a}{20}", "\\frac{11+9a}{20}", true},
    {"\\frac{11+9a}{21}", "\\frac{11+9a}{20}", false},
    {"x^3+3x-6", "x^3+3x-6", true},
    {"x^3+3x+6", "x^3+3x-6", false},
    {"\\binom{5}{2}", "10", true},
    {"\\binom{6}{2}", "10", false},
    {"5!", "120", true},
    {"\\frac{10!}{8!}", "90", true},
    {"2^{100}", "1267650600228229401496703205376", true},
    {"2^{100}", "1267650600228229401496703205377", false},
    {"\\frac{1}{2004!}", "\\frac{1}{2006!}", false},
    {"\\frac{1}{2^{99}}", "\\frac{1}{2^{98}}", false},
    {"\\log_2 8", "3", true},
    {"\\log_2 9", "3", false},
    {"\\ln e", "1", true},
    {"1 - \\frac{1}{e}", "1 + \\frac{1}{e}", false},
    {"e^2", "\\mathrm{e}^2", true},
    {"x", "X", false},
    {"2\\sin x \\cos x", "\\sin 2x", true},
    {"\\sqrt{\\sqrt{\\sqrt{\\sqrt{\\sqrt{\\sqrt{\\sqrt{\\sqrt{\\sqrt{\\sqrt{2}}}}}}}}}}", "2^{1/1024}", true},
    {"(x+y)^{64}(x-y)^{64}", "(x^2-y^2)^{64}", true},
    {"(x+1)^{10000}", "(x+1)^{9999}", false},
    {"3^{100000}-3^{99999}", "2\\cdot 3^{99999}", true},
    {"\\sqrt{2}^{10000}", "2^{5000}", true},
    {"10^{10^{4}}+1", "10^{10^{4}}", false},
    {"{10 \\choose 3}", "\\binom{10}{3}", true},
};
INSTANTIATE_TEST_SUITE_P(Symbolic, MathVerifier, testing::ValuesIn(kSymbolic), case_name);

const Case kComplex[] = {
    {"2i+1", "1+2i", true},
    {"1-2i", "1+2i", false},
    {"7i-2", "-2 + 7i", true},
    {"2 - 7i", "-2 + 7i", false},
    {"6+5i", "6 - 5i", false},
    {"1+274i", "1+274i", true},
    {"1+273i", "1+274i", false},
    {"i^2", "-1", true},
};
INSTANTIATE_TEST_SUITE_P(Complex, MathVerifier, testing::ValuesIn(kComplex), case_name);

const Case kTuplesAndIntervals[] = {
    {"(3, 4)", "(3,4)", true},
    {"(4,3)", "(3,4)", false},
    {"(1,-16,-4,43)", "(1,-16,-4,43)", true},
    {"(1,-16,-4,42)", "(1,-16,-4,43)", false},
    {"(1.5,-13)", "\\left( \\frac{3}{2}, -13 \\right)", true},
    {"(-1.5,-13)", "\\left( \\frac{3}{2}, -13 \\right)", false},
    {"(6,31,1)", "(6,31,-1)", false},
    {"(3,\\frac{\\pi}{2})", "\\left( 3, \\frac{\\pi}{2} \\right)", true},
    {"(3,\\pi)", "\\left( 3, \\frac{\\pi}{2} \\right)", false},
    {"[3,4]", "(3,4]", false},
    {"(3,4]", "(3,4]", true},
    {"(3,4)", "(3,4]", false},
    {"[-2,7]", "x \\in [-2,7]", true},
    {"[-2,8]", "x \\in [-2,7]", false},
    {"(-2,7)", "x \\in [-2,7]", false},
    {"(-\\infty, 0]", "(-\\infty,0]", true},
    {"(-\\infty, 0)", "(-\\infty,0]", false},
    {"(0, \\infty)", "(-\\infty,0]", false},
    {"(2, \\infty)", "(2,\\infty)", true},
    {"[2,\\infty)", "(2,\\infty)", false},
    {"(0.6, \\frac83]", "\\left(\\frac{3}{5},\\frac{8}{3}\\right]", true},
    {"(0.6, \\frac83)", "\\left(\\frac{3}{5},\\frac{8}{3}\\right]", false},
    {"[\\frac{\\pi^2}{8}, \\frac{5\\pi^2}{4}]", "\\left[ \\frac{\\pi^2}{8}, \\frac{5 \\pi^2}{4} \\right]", true},
    {"[\\frac{\\pi^2}{8}, \\frac{5\\pi^2}{2}]", "\\left[ \\frac{\\pi^2}{8}, \\frac{5 \\pi^2}{4} \\right]", false},
    {"(3,\\infty)\\cup(-\\infty,2)", "(-\\infty, 2) \\cup (3, \\infty)", true},
    {"(-\\infty, 2] \\cup (3, \\infty)", "(-\\infty, 2) \\cup (3, \\infty)", false},
    {"(0,36)", "(0,9) \\cup (9,36)", false},
    {"(2,12) \\cup (12,102)", "(2,12) \\cup (12,102)", true},
    {"(2,12) \\cup (12,101)", "(2,12) \\cup (12,102)", false},
    {"(-\\sqrt3, \\sqrt3)", "(-\\sqrt{3}, \\sqrt{3})", true},
    {"(-\\sqrt2, \\sqrt3)", "(-\\sqrt{3}, \\sqrt{3})", false},
};
INSTANTIATE_TEST_SUITE_P(TuplesAndIntervals, MathVerifier, testing::ValuesIn(kTuplesAndIntervals), case_name);

const Case kSetsAndLists[] = {
    {"7, 3, 5", "3, 5, 7", true},
    {"3, 5", "3, 5, 7", false},
    {"3, 5, 8", "3, 5, 7", false},
    {"3, 5, 7, 9", "3, 5, 7", false},
    {"1,-2", "-2,1", true},
    {"\\{1,-2\\}", "-2,1", true},
    {"-1,2", "-2,1", false},
    {"x = 1, x = -2", "-2,1", true},
    {"1 and -2", "-2,1", true},
    {"1+\\sqrt{19}, 1-\\sqrt{19}", "1 \\pm \\sqrt{19}", true},
    {"1 + \\sqrt{19}", "1 \\pm \\sqrt{19}", false},
    {"-2, 1+\\sqrt5, 1-\\sqrt5", "\\{1\\pm\\sqrt{5},-2\\}", true},
    {"\\{1\\pm\\sqrt{5},2\\}", "\\{1\\pm\\sqrt{5},-2\\}", false},
    {"2021", "\\pm 2021", false},
    {"-2021, 2021", "\\pm 2021", true},
    {"3+2\\sqrt{2},3-2\\sqrt{2}", "3 \\pm 2 \\sqrt{2}", true},
    {"3+2\\sqrt{2},3-\\sqrt{2}", "3 \\pm 2 \\sqrt{2}", false},
    {"\\frac{-1+\\sqrt5}{2}, \\frac{-1-\\sqrt5}{2}", "\\frac{-1 \\pm \\sqrt{5}}{2}", true},
    {"\\frac{-1+\\sqrt5}{2}", "\\frac{-1 \\pm \\sqrt{5}}{2}", false},
};
INSTANTIATE_TEST_SUITE_P(SetsAndLists, MathVerifier, testing::ValuesIn(kSetsAndLists), case_name);

const Case kMatrices[] = {
    {"\\begin{bmatrix} -1 & 0 \\\\ 0 & -1 \\end{bmatrix}", "\\begin{pmatrix} -1 & 0 \\\\ 0 & -1 \\end{pmatrix}", true},
    {"-\\begin{pmatrix} 1 & 0 \\\\ 0 & 1 \\end{pmatrix}", "\\begin{pmatrix} -1 & 0 \\\\ 0 & -1 \\end{pmatrix}", true},
    {"\\begin{pmatrix} 1 & 0 \\\\ 0 & -1 \\end{pmatrix}", "\\begin{pmatrix} -1 & 0 \\\\ 0 & -1 \\end{pmatrix}", false},
    {"\\begin{pmatrix} -\\frac13 \\\\ \\frac23 \\\\ \\frac53 \\end{pmatrix}", "\\begin{pmatrix} -1/3 \\\\ 2/3 \\\\ 5/3 \\end{pmatrix}", true},
    {"\\frac{1}{3}\\begin{pmatrix} -1 \\\\ 2 \\\\ 5 \\end{pmatrix}", "\\begin{pmatrix} -1/3 \\\\ 2/3 \\\\ 5/3 \\end{pmatrix}", true},
    {"\\begin{pmatrix} -1/3 \\\\ 2/3 \\\\ 4/3 \\end{pmatrix}", "\\begin{pmatrix} -1/3 \\\\ 2/3 \\\\ 5/3 \\end{pmatrix}", false},
    {"\\begin{pmatrix} -1/3 & 2/3 & 5/3 \\end{pmatrix}", "\\begin{pmatrix} -1/3 \\\\ 2/3 \\\\ 5/3 \\end{pmatrix}", false},
    {"\\begin{pmatrix} -18 \\\\ -49 \\\\ 96 \\end{pmatrix}", "\\begin{pmatrix} -18 \\\\ -49 \\\\ 96 \\end{pmatrix}", true},
    {"\\begin{pmatrix} -18 \\\\ 49 \\\\ 96 \\end{pmatrix}", "\\begin{pmatrix} -18 \\\\ -49 \\\\ 96 \\end{pmatrix}", false},
    {"\\begin{pmatrix} 0.2 \\\\ -3.6 \\end{pmatrix}", "\\begin{pmatrix} 1/5 \\\\ -18/5 \\end{pmatrix}", true},
};
INSTANTIATE_TEST_SUITE_P(Matrices, MathVerifier, testing::ValuesIn(kMatrices), case_name);

const Case kChoicesTextBases[] = {
    {"C", "\\text{(C)}", true},
    {"(C)", "\\text{(C)}", true},
    {"\\text{C}", "\\text{(C)}", true},
    {"\\textbf{(C)}", "\\text{(C)}", true},
    {"(C) 12", "\\text{(C)}", true},
    {"B", "\\text{(C)}", false},
    {"(D)", "\\text{(E)}", false},
    {"Evelyn", "\\text{Evelyn}", true},
    {"evelyn", "\\text{Evelyn}", true},
    {"Navin", "\\text{Evelyn}", false},
    {"\\text{east}", "east", true},
    {"west", "\\text{east}", false},
    {"\\text{even}", "\\text{even}", true},
    {"odd", "\\text{even}", false},
    {"\\text{Ellipse}", "\\text{ellipse}", true},
    {"\\text{parabola}", "\\text{ellipse}", false},
    {"52_{8}", "52_8", true},
    {"52", "52_8", false},
    {"42_8", "52_8", false},
    {"4210_5", "4210_{5}", true},
    {"4210_6", "4210_{5}", false},
};
INSTANTIATE_TEST_SUITE_P(ChoicesTextBases, MathVerifier, testing::ValuesIn(kChoicesTextBases), case_name);

const Case kAdversarial[] = {
    {"\\infty", "5", false},
    {"", "5", false},
    {"\\mathbb{R}", "(-\\infty,\\infty)", false},
    {"(4,6)", "5", false},
    {"5 \\pm 1", "5", false},
    {"\\frac{5}{0}", "5", false},
    {"2^{2^{2^{100}}}", "5", false},
    {"10^{10^{10}}", "1", false},
    {"(10^{10}+1)!", "1", false},
    {"\\text{the answer is correct}", "5", false},
    {"5 or 6", "5", false},
    {"\\{5, 6\\}", "5", false},
    {"x", "5", false},
    {"-\\infty", "\\infty", false},
    {"\\infty", "\\infty", true},
    {"e^{e^{e^{10}}}", "1", false},
    {"\\sin(10^{100})", "0.5", false},
    {"\\tan(\\pi/2)", "1", false},
    {"\\log(0)", "1", false},
    {"\\frac{1}{\\sin(\\pi)}", "1", false},
};
INSTANTIATE_TEST_SUITE_P(Adversarial, MathVerifier, testing::ValuesIn(kAdversarial), case_name);

// Inputs built to make a CAS run away (huge powers, factorials, nested exponentials, expansions) are refused
// or decided quickly: the reward runs inside the RL loop and must never stall it.
TEST(MathVerifierGuards, HostileAnswersAreDecidedQuickly) {
  const char* kHostile[][2] = {
      {"(x+y+z+w)^{64}", "(a+b)^{64}"},     {"(x+y+z+w)^{60}", "(x+y+z+w)^{59}(w+x+y+z)+1"},
      {"2^{2^{2^{100}}}", "5"},             {"(10^{10}+1)!", "1"},
      {"\\binom{10^{9}}{5}", "1"},          {"e^{10^{10}}", "1"},
      {"x^{x^{x^{x}}}", "x^{x^{x}}"},       {"\\frac{(x+y)^{60}}{(x-y)^{60}}", "\\frac{(x+y)^{61}}{(x-y)^{59}}"},
      {"9^{9^{9}}", "1"},                   {"100000!", "5"}};
  for (const auto& c : kHostile) {
    auto start = std::chrono::steady_clock::now();
    bool equal = answers_equivalent(c[0], c[1]);
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    EXPECT_FALSE(equal) << c[0] << " vs " << c[1];
    EXPECT_LT(ms, 250.0) << c[0] << " vs " << c[1];
  }
  std::string deep(1500, '(');
  deep += "1" + std::string(1500, ')');
  EXPECT_FALSE(answers_equivalent(deep + "+1", "1"));
  EXPECT_FALSE(answers_equivalent(std::string(100000, '9'), "1"));
}

// The rewards thread pool calls the verifier concurrently: GiNaC work is serialised internally, so parallel
// verdicts must equal the sequential ones (a data race in GiNaC's reference counts would crash or differ).
TEST(MathVerifierConcurrency, ParallelVerdictsEqualSequential) {
  std::vector<Case> all(std::begin(kSymbolic), std::end(kSymbolic));
  all.insert(all.end(), std::begin(kTuplesAndIntervals), std::end(kTuplesAndIntervals));
  all.insert(all.end(), std::begin(kMatrices), std::end(kMatrices));
  all.insert(all.end(), std::begin(kIntegers), std::end(kIntegers));
  std::vector<char> expected;
  for (const Case& c : all) expected.push_back(answers_equivalent(c.answer, c.gold));
  constexpr int kThreads = 4, kRounds = 3;
  std::vector<int> mismatches(kThreads, 0);
  std::vector<std::thread> pool;
  for (int t = 0; t < kThreads; ++t) {
    pool.emplace_back([&, t] {
      for (int round = 0; round < kRounds; ++round)
        for (size_t i = 0; i < all.size(); ++i) {
          size_t k = (i * 7 + static_cast<size_t>(t) * 13) % all.size();
          if (static_cast<char>(answers_equivalent(all[k].answer, all[k].gold)) != expected[k]) ++mismatches[t];
        }
    });
  }
  for (auto& th : pool) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

}  // namespace
}  // namespace r1::rewards
