"""Every label the reports print, in Chinese and English (both complete: a test checks the keys).

Templates read labels through ``t.key``; Python code (view models, charts) through :func:`tr`.
Labels with ``{name}`` fields are formatted with :func:`tr` keyword arguments.
"""

from __future__ import annotations

__all__ = ["LABELS", "LANGS", "dimension_label", "period_label", "tr"]

LANGS = ("zh", "en")

LABELS: dict[str, dict[str, str]] = {
    "zh": {
        # page furniture
        "platform": "南京市区域卫生信息平台",
        "colon": "：",
        "sep": "；",
        "list_sep": "、",
        "paren": "（{}）",
        "unit_report_title": "数据质量月报",
        "campaign_title": "数据质量整改成效报告",
        "index_title": "数据质量月报目录",
        "generated": "生成时间",
        "run": "评分批次",
        "dq_version": "dq 版本",
        "footer_masked": "样例数据中的身份证号、姓名、电话等个人信息已脱敏。",
        "footer_private": "本报告仅含本单位的明细；排名只给出名次，不展示其他单位的信息。",
        "back_to_index": "返回目录",
        "unit_code": "单位编码",
        "period": "统计月份",
        "district": "所属区",
        # kinds, parts, dimensions
        "kind_hospital": "医院",
        "kind_district": "区平台",
        "kind_other": "其他单位",
        "kinds_hospital": "各医院",
        "kinds_district": "各区",
        "kinds_other": "其他单位",
        "part_submission": "上报情况",
        "part_records": "数据质量",
        "dim_completeness": "完整性",
        "dim_conformance": "规范性",
        "dim_plausibility": "合理性",
        "dim_uniqueness": "唯一性",
        "dim_timeliness": "及时性",
        "dim_consistency": "一致性",
        "severity_warning": "提示",
        "severity_error": "错误",
        "severity_critical": "严重",
        "status_fail": "未通过",
        "status_warn": "警告",
        "status_pass": "通过",
        "status_error": "未能执行",
        "status_not_applicable": "不适用",
        # overview
        "overall_score": "综合得分",
        "grade": "等级",
        "grade_A": "优",
        "grade_B": "良",
        "grade_C": "中",
        "grade_D": "差",
        "rank": "名次",
        "rank_text": "第 {rank} / {of} 名",
        "rank_among": "在{kinds}中",
        "no_rank": "无排名",
        "no_score": "无得分",
        "not_evaluated": "未评估",
        "section_scores": "得分概览",
        "dimensions_chart": "各维度得分",
        "parts": "分项得分",
        "part_weight": "权重 {weight}%",
        "trend_chart": "历次得分",
        "trend_single": "目前只有本期一次评分，以后各期的得分会显示在这里。",
        "trend_flagged": "圈出的月份有指标与本单位以往各月相比异常（见“与历史相比”）。",
        "section_history": "与历史相比",
        "history_metric": "指标",
        "history_value": "本月",
        "history_expected": "预期范围",
        "history_periods": "依据月份",
        "history_none": "没有指标超出本单位以往各月给出的范围（历史不足3个月时尚无法比较）。",
        "history_drop_title": "有指标较本单位以往各月骤降",
        "scores_note": "满分 100。等级：优 ≥ 90，良 ≥ 80，中 ≥ 60，差 < 60。",
        # submission
        "section_submission": "数据上报情况",
        "declared_required": "申明上传表 / 规定上传表",
        "declared_not_reported": "未反馈",
        "declared_direct_db": "开库采集",
        "declared_direct_db_note": "平台直接读取本单位数据库，无需申明",
        "declared_not_reported_note": "未反馈申明上传表（未知不等于零）",
        "uploaded_tables": "实际上传表数",
        "data_volume": "数据上传量（条）",
        "upload_days": "上传天数",
        "upload_days_value": "{days} / {total} 天",
        "calendar_legend_yes": "有上传",
        "calendar_legend_no": "无上传",
        "calendar_count_only": "只知道本月共有 {days} 天有上传，没有具体日期，无法画出日历。",
        "calendar_unknown": "没有上传天数信息。",
        "outpatient": "门急诊人次",
        "discharge": "出院人次",
        "uploaded": "上传数",
        "reference": "卫统数",
        "rate": "上传率",
        "rate_over": "超过 100%：上传数多于卫统数，请检查是否重复上传或统计口径不一致。",
        "rate_no_reference": "未获取卫统数据",
        "rate_not_published": "未公布",
        "rate_not_applicable": "不适用",
        "records_basic": "居民健康档案（份）",
        "records_hypertension": "高血压管理档案（份）",
        "records_diabetes": "糖尿病管理档案（份）",
        "no_summary": "本期没有上报情况汇总数据。",
        # failing rules
        "section_failing": "未通过的规则",
        "failing_intro": "按失分从多到少排列。每条规则给出不合格数、阈值、脱敏后的样例和整改建议。",
        "no_failing": "本期所有可评估的规则均已通过。",
        "points_lost": "规则扣 {lost} 分（满分 {max}）",
        "loss_points": "综合得分 −{points}",
        "gain_points": "可得 +{points} 分",
        "section_losses": "失分在哪里",
        "index_change": "较上期",
        "per_unit_chart": "各单位整改前后得分",
        "per_unit_chart_note": (
            "按得分变化从大到小排列；灰点为整改前，彩色点为整改后（颜色表示等级），"
            "绿线为提升，红线为下降。点击单位名称打开其报告。"
        ),
        "legend_up": "提升",
        "legend_down": "下降",
        "district_view": "各区：区平台与辖区医院",
        "district_view_note": "区平台自身得分与该区医院（两期均有得分者）平均分，整改前后对比。",
        "platform_before": "区平台·整改前",
        "platform_after": "区平台·整改后",
        "hospitals_n": "医院数",
        "hospitals_before": "医院均分·整改前",
        "hospitals_after": "医院均分·整改后",
        "losses_intro": (
            "综合得分 {score}，共失 {lost} 分。"
            "每条规则的失分是它在 100 − 综合得分 中所占的分值，各条相加等于总失分。"
        ),
        "losses_parts": "按部分",
        "losses_dims": "按质量维度",
        "losses_top": "收益最大的五项整改",
        "losses_none": "本期没有失分。",
        "fix_files": "需整改的数据行（注明所在文件和行号，已脱敏）",
        "failed_of": "不合格 {failed} / 评估 {evaluated} {unit}（{pct}）",
        "unit_rows": "条",
        "unit_days": "天",
        "unit_tables": "张",
        "unit_items": "项",
        "table_submission": "上报情况",
        "summary_change": "较上月",
        "summary_change_vs": "与 {period} 相比",
        "summary_no_previous": "无上月得分",
        "summary_rank": "排名",
        "summary_peers": "同类单位得分",
        "summary_peers_text": "中位数 {median}，四分位 {q1}–{q3}（{n} 家）",
        "not_assessed": "未评估",
        "not_assessed_note": "本月没有上传任何数据，各维度均未评估；得分只反映上报情况。",
        "rules_table": "未通过的规则",
        "rules_table_intro": (
            "按失分从多到少排列；失分按综合得分计。前 {n} 条在下方给出样例与整改建议，"
            "全部需整改的数据行见附带的工作簿。"
        ),
        "col_rule": "规则",
        "col_table": "数据表",
        "col_failed": "不合格",
        "col_loss": "失分",
        "col_since": "首次出现",
        "col_trend": "近月不合格数",
        "cards_title": "失分最多的 {n} 条规则",
        "cards_more": "其余 {n} 条规则见上表和工作簿。",
        "threshold": "阈值",
        "threshold_none": "不允许不合格",
        "threshold_fraction": "不合格比例 ≤ {pct}",
        "threshold_count": "不合格 ≤ {n} {unit}",
        "samples": "不合格样例（已脱敏）",
        "fix": "整改建议",
        "no_fix": "暂无整改建议，请联系平台运维。",
        "rules_not_run": "未能执行的规则（不计分）",
        "change_new": "新出现",
        "change_persisting": "持续未改",
        "dimension": "维度",
        "severity": "级别",
        # changes
        "section_changes": "与上次评分相比",
        "changes_previous": "上次评分：{period}",
        "changes_none": "没有更早的评分，无法比较。",
        "changes_fixed": "已修复",
        "changes_new": "新出现的问题",
        "changes_persisting": "仍未修复",
        "changes_gone": "上次未通过、本次未评估",
        "changes_empty": "无",
        # error
        "error_title": "本期数据无法读取",
        "error_text": "平台未能读取本单位本月的数据抽取，因此本期没有得分，也不参加排名。原因：",
        "error_fix": (
            "请按上传规范检查 manifest.yaml 和各数据文件（文件名、编码、列名、日期格式），修正后重新提交。"
        ),
        # campaign
        "campaign_before": "整改前",
        "campaign_after": "整改后",
        "campaign_intro": "比较 {before} 与 {after} 两期的得分。只统计两期都有得分的单位。",
        "growth_per_unit": "平均增长率（按单位）",
        "growth_of_mean": "平均分增长率",
        "growth_def_title": "指标定义",
        "growth_def_unit": (
            "平均增长率（按单位）：对该类中两期都有得分（且整改前得分大于 0）的每个单位，"
            "计算相对变化（整改后 − 整改前）÷ 整改前 × 100%，再对这些单位取算术平均。"
            "通讯中“各区和各医院数据得分平均增长了 …%”即此口径。"
        ),
        "growth_def_mean": (
            "平均分增长率：先分别计算这些单位整改前、整改后的平均分，再算（整改后平均分 − 整改前平均分）"
            "÷ 整改前平均分 × 100%。低分单位进步大时，按单位平均的增长率会明显高于平均分增长率。"
        ),
        "units_in_both": "两期均有得分",
        "mean_before": "整改前平均分",
        "mean_after": "整改后平均分",
        "improved_units": "提高",
        "regressed_units": "下降",
        "units_count": "{n} 家",
        "distribution": "得分分布",
        "distribution_note": (
            "每个点是一个单位；灰点为整改前，彩色点为整改后，细线连接同一单位；竖线为平均分。"
        ),
        "per_unit": "各单位得分变化",
        "change": "变化",
        "rel_change": "相对变化",
        "rules_improved": "改进最多的规则",
        "rules_improved_note": (
            "挽回分数 = 两期均评估该规则的单位中，整改前扣分之和 − 整改后扣分之和（综合得分分值）；"
            "“由不通过变为通过”为整改前未通过、整改后通过的单位数。"
        ),
        "regained": "挽回分数",
        "fail_to_pass": "由不通过变为通过",
        "pass_to_fail": "由通过变为不通过",
        "no_rules_improved": "没有规则得到改进。",
        "regressed": "得分下降的单位",
        "no_regressed": "没有单位得分下降。",
        "only_one": "只在一期出现的单位（不参与统计）",
        "only_before": "仅整改前",
        "only_after": "仅整改后",
        "rule": "规则",
        "unit": "单位",
        "units": "单位数",
        "score": "得分",
        "score_before": "整改前得分",
        "score_after": "整改后得分",
        "kind": "类别",
        # campaign, round 2
        "points_note": "本页所有“分”均为综合得分（0–100 分）的分值，与单位月报和 dq explain 一致。",
        "median_growth": "中位数增长率",
        "without_no_upload": "不计整改前未上传数据的单位",
        "no_upload_story": (
            "其中 {n} 家单位整改前没有上传任何数据（仅按申报情况评分），整改后正常上传，"
            "它们贡献了平均增长率中的 {share} 个百分点；不计这些单位，平均增长率为 {without}，"
            "各单位增长率的中位数为 {median}。"
        ),
        "no_upload_none": "各单位增长率的中位数为 {median}。",
        "no_upload_flag": "整改前未上传",
        "no_upload_star": "名称后带 * 的单位整改前没有上传任何数据。",
        "contribution": "对平均增长率的贡献（百分点）",
        "grades_table": "等级变化（整改前 × 整改后）",
        "grades_table_note": "行为整改前等级，列为整改后等级，格中为单位数；对角线上为等级未变的单位。",
        "grade_before_after": "整改前 ↓ / 整改后 →",
        "dimensions_table": "各维度平均分",
        "dimensions_table_note": (
            "每一维度只统计在该维度有得分的单位（括号内为单位数）；整改前未上传任何数据的单位不计入整改前的维度平均分。"
        ),
        "platform_change": "区平台·变化",
        "hospitals_change": "医院均分·变化",
        "districts_no_hospitals": "以下各区没有两期均有得分的医院，医院列留空：{names}。",
        "new_losses": "扣分增加最多的规则",
        "new_loss_item": "{rule} {title}：{before} → {after} 分（多扣 {more} 分）",
        "regained_total": "挽回分数（各单位合计）",
        "regained_per_unit": "平均每单位挽回",
        "lost_before_after": "扣分 整改前 → 整改后",
        "mean_row": "平均",
        "mean_row_note": (
            "“平均”行：各列的算术平均；相对变化列的平均即按单位计算的平均增长率（{per_unit}）。"
            "平均分增长率（{of_mean}）为平均分的相对变化，见上方定义。"
        ),
        # index
        "index_intro": "{period} 共 {n} 家单位参加评分，其中 {errors} 家数据无法读取。",
        "index_campaigns": "整改成效报告",
        "index_open": "查看报告",
        "failing_rules": "未通过规则",
        "status": "状态",
        "status_ok": "正常",
        "status_unreadable": "无法读取",
        "mean_score": "平均分",
        "sort_hint": "点击表头可排序。",
        "filter_kind": "类别",
        "filter_all": "全部",
        "filter_search": "查找",
        "filter_search_hint": "单位名称或编码",
        "index_districts": "各区汇总",
        "index_platform_score": "区平台得分",
        "index_hospital_mean": "医院平均分",
        "page_of": "第 {page} / {pages} 页",
    },
    "en": {
        "platform": "Nanjing Regional Health Information Platform",
        "colon": ": ",
        "sep": "; ",
        "list_sep": ", ",
        "paren": "({})",
        "unit_report_title": "Monthly data-quality report",
        "campaign_title": "Data-quality campaign results",
        "index_title": "Monthly data-quality reports",
        "generated": "Generated",
        "run": "Scoring run",
        "dq_version": "dq version",
        "footer_masked": "Identity numbers, names and phone numbers in the samples are masked.",
        "footer_private": (
            "This report shows this unit's details only; the ranking gives the position, "
            "nothing about other units."
        ),
        "back_to_index": "Back to the list",
        "unit_code": "Unit code",
        "period": "Month",
        "district": "District",
        "kind_hospital": "Hospital",
        "kind_district": "District platform",
        "kind_other": "Other unit",
        "kinds_hospital": "Hospitals",
        "kinds_district": "Districts",
        "kinds_other": "Other units",
        "part_submission": "Submission",
        "part_records": "Record quality",
        "dim_completeness": "Completeness",
        "dim_conformance": "Conformance",
        "dim_plausibility": "Plausibility",
        "dim_uniqueness": "Uniqueness",
        "dim_timeliness": "Timeliness",
        "dim_consistency": "Consistency",
        "severity_warning": "Warning",
        "severity_error": "Error",
        "severity_critical": "Critical",
        "status_fail": "Failed",
        "status_warn": "Warning",
        "status_pass": "Passed",
        "status_error": "Could not run",
        "status_not_applicable": "Not applicable",
        "overall_score": "Overall score",
        "grade": "Grade",
        "grade_A": "Excellent",
        "grade_B": "Good",
        "grade_C": "Fair",
        "grade_D": "Poor",
        "rank": "Rank",
        "rank_text": "No. {rank} of {of}",
        "rank_among": "among {kinds}",
        "no_rank": "Not ranked",
        "no_score": "No score",
        "not_evaluated": "Not evaluated",
        "section_scores": "Scores",
        "dimensions_chart": "Score by dimension",
        "parts": "Parts of the score",
        "part_weight": "weight {weight}%",
        "trend_chart": "Score over time",
        "trend_single": "Only this month has been scored so far; later months will appear here.",
        "trend_flagged": (
            "Circled months had a metric out of line with the unit's earlier months"
            " (see Compared with history)."
        ),
        "section_history": "Compared with history",
        "history_metric": "Metric",
        "history_value": "This month",
        "history_expected": "Expected range",
        "history_periods": "Based on",
        "history_none": (
            "No metric is outside the range the unit's earlier months give"
            " (with fewer than 3 earlier months there is nothing to compare yet)."
        ),
        "history_drop_title": "A metric fell far below the unit's earlier months",
        "scores_note": "Out of 100. Grades: A ≥ 90, B ≥ 80, C ≥ 60, D < 60.",
        "section_submission": "Submission",
        "declared_required": "Declared / required tables",
        "declared_not_reported": "Not reported (未反馈)",
        "declared_direct_db": "Direct database collection (开库采集)",
        "declared_direct_db_note": "The platform reads the unit's database; no declaration needed",
        "declared_not_reported_note": "No list of declared tables was reported (unknown is not zero)",
        "uploaded_tables": "Tables uploaded",
        "data_volume": "Rows uploaded",
        "upload_days": "Upload days",
        "upload_days_value": "{days} of {total} days",
        "calendar_legend_yes": "Upload",
        "calendar_legend_no": "No upload",
        "calendar_count_only": (
            "Only the count is known: data arrived on {days} days this month, dates not given, "
            "so no calendar can be drawn."
        ),
        "calendar_unknown": "No upload-day figures.",
        "outpatient": "Outpatient visits",
        "discharge": "Discharges",
        "uploaded": "Uploaded",
        "reference": "Official count",
        "rate": "Upload rate",
        "rate_over": (
            "Above 100 %: more uploaded than the official count; check for duplicate uploads "
            "or a different counting rule."
        ),
        "rate_no_reference": "No official statistics (未获取卫统数据)",
        "rate_not_published": "Not published",
        "rate_not_applicable": "Not applicable",
        "records_basic": "Resident health records",
        "records_hypertension": "Hypertension records",
        "records_diabetes": "Diabetes records",
        "no_summary": "No submission figures for this month.",
        "section_failing": "Rules not passed",
        "failing_intro": (
            "Sorted by points lost, most first. Each rule shows failing and evaluated counts, "
            "its threshold, masked samples and how to fix it."
        ),
        "no_failing": "Every rule that could be evaluated passed this month.",
        "points_lost": "−{lost} points (of {max})",
        "loss_points": "score −{points}",
        "gain_points": "+{points} points",
        "section_losses": "Where the points are lost",
        "index_change": "vs previous",
        "per_unit_chart": "Each unit before and after",
        "per_unit_chart_note": (
            "Sorted by change, largest gain first; grey dot before, coloured dot after (colour = grade), "
            "green line = improved, red line = fell. Click a unit's name to open its report."
        ),
        "legend_up": "improved",
        "legend_down": "fell",
        "district_view": "Districts: platform and hospitals",
        "district_view_note": (
            "The district platform's own score and the mean of the district's hospitals scored in both "
            "periods, before and after."
        ),
        "platform_before": "Platform before",
        "platform_after": "Platform after",
        "hospitals_n": "Hospitals",
        "hospitals_before": "Hospitals' mean before",
        "hospitals_after": "Hospitals' mean after",
        "losses_intro": (
            "Score {score}: {lost} points lost. Each rule's loss is its share of 100 − score, "
            "so the losses add up to the points lost."
        ),
        "losses_parts": "By part",
        "losses_dims": "By quality dimension",
        "losses_top": "The five fixes that gain most",
        "losses_none": "No points lost this month.",
        "fix_files": "Rows to fix (with file and line, masked)",
        "failed_of": "{failed} of {evaluated} {unit} failing ({pct})",
        "unit_rows": "rows",
        "unit_days": "days",
        "unit_tables": "tables",
        "unit_items": "items",
        "table_submission": "Submission",
        "summary_change": "Since last month",
        "summary_change_vs": "compared with {period}",
        "summary_no_previous": "no previous score",
        "summary_rank": "Rank",
        "summary_peers": "Scores of the same kind",
        "summary_peers_text": "median {median}, quartiles {q1}–{q3} ({n} units)",
        "not_assessed": "Not assessed",
        "not_assessed_note": (
            "Nothing was uploaded this month: no dimension is assessed; the score reflects the "
            "submission only."
        ),
        "rules_table": "Rules not passed",
        "rules_table_intro": (
            "Most points lost first, in overall-score points. The first {n} have samples and the "
            "fix below; every row to fix is in the attached workbook."
        ),
        "col_rule": "Rule",
        "col_table": "Table",
        "col_failed": "Failing",
        "col_loss": "Points lost",
        "col_since": "Failing since",
        "col_trend": "Failures, recent months",
        "cards_title": "The {n} rules that cost most",
        "cards_more": "The other {n} rules are in the table above and in the workbook.",
        "threshold": "Threshold",
        "threshold_none": "no failure allowed",
        "threshold_fraction": "failing share ≤ {pct}",
        "threshold_count": "at most {n} failing",
        "samples": "Failing samples (masked)",
        "fix": "How to fix",
        "no_fix": "No guidance yet; contact the platform team.",
        "rules_not_run": "Rules that could not run (not scored)",
        "change_new": "New",
        "change_persisting": "Persisting",
        "dimension": "Dimension",
        "severity": "Severity",
        "section_changes": "Since the previous scoring",
        "changes_previous": "Previous scoring: {period}",
        "changes_none": "No earlier scoring to compare with.",
        "changes_fixed": "Fixed",
        "changes_new": "New problems",
        "changes_persisting": "Still failing",
        "changes_gone": "Failed before, not evaluated now",
        "changes_empty": "None",
        "error_title": "This month's extract could not be read",
        "error_text": (
            "The platform could not read this unit's extract for the month, so there is no score "
            "and no rank. Reason:"
        ),
        "error_fix": (
            "Check manifest.yaml and the data files against the upload specification (file names, "
            "encoding, column names, date formats), then submit again."
        ),
        "campaign_before": "Before",
        "campaign_after": "After",
        "campaign_intro": "Scores of {before} compared with {after}. Only units scored in both are counted.",
        "growth_per_unit": "Average growth (per unit)",
        "growth_of_mean": "Growth of the mean score",
        "growth_def_title": "Definitions",
        "growth_def_unit": (
            "Average growth (per unit): for every unit of the kind scored in both periods (with a "
            "before score above 0), the relative change (after − before) ÷ before × 100 %, averaged "
            "over those units. This is the newsletter's measure (各区和各医院数据得分平均增长了 …%)."
        ),
        "growth_def_mean": (
            "Growth of the mean score: the mean before and the mean after over the same units, then "
            "(mean after − mean before) ÷ mean before × 100 %. When low scorers improve most, the "
            "per-unit average is clearly higher than the growth of the mean."
        ),
        "units_in_both": "Scored in both",
        "mean_before": "Mean before",
        "mean_after": "Mean after",
        "improved_units": "Improved",
        "regressed_units": "Regressed",
        "units_count": "{n}",
        "distribution": "Distribution of scores",
        "distribution_note": (
            "Each dot is a unit: grey before, coloured after, a thin line joins the same unit; "
            "vertical ticks are the means."
        ),
        "per_unit": "Change per unit",
        "change": "Change",
        "rel_change": "Relative change",
        "rules_improved": "Rules improved most",
        "rules_improved_note": (
            "Points regained = over the units that were scored on the rule in both periods, the "
            "overall-score points lost before minus those lost after; fail → pass counts the units "
            "that failed the rule before and pass it after."
        ),
        "regained": "Points regained",
        "fail_to_pass": "Fail → pass",
        "pass_to_fail": "Pass → fail",
        "no_rules_improved": "No rule improved.",
        "regressed": "Units whose score fell",
        "no_regressed": "No unit's score fell.",
        "only_one": "Units present in one period only (not counted)",
        "only_before": "Before only",
        "only_after": "After only",
        "rule": "Rule",
        "unit": "Unit",
        "units": "Units",
        "score": "Score",
        "score_before": "Before",
        "score_after": "After",
        "kind": "Kind",
        # campaign, round 2
        "points_note": (
            "Every points figure on this page is in overall-score points (the 0–100 score), as in "
            "the unit reports and dq explain."
        ),
        "median_growth": "Median growth",
        "without_no_upload": "Without units that uploaded nothing before",
        "no_upload_story": (
            "{n} of these units uploaded no data at all before (scored on their submission alone) and "
            "uploaded normally after; they contribute {share} points of the average growth. Without "
            "them the average growth is {without}; the median of the units' growth is {median}."
        ),
        "no_upload_none": "The median of the units' growth is {median}.",
        "no_upload_flag": "nothing uploaded before",
        "no_upload_star": "A * after the name: the unit uploaded no data at all before.",
        "contribution": "Share of the average growth (points)",
        "grades_table": "Grades before × after",
        "grades_table_note": (
            "Rows: grade before; columns: grade after; cells: units. The diagonal holds the units "
            "whose grade did not change."
        ),
        "grade_before_after": "before ↓ / after →",
        "dimensions_table": "Mean score per dimension",
        "dimensions_table_note": (
            "Each dimension averages the units assessed on it (units in brackets); units that "
            "uploaded nothing before are left out of the before means."
        ),
        "platform_change": "Platform change",
        "hospitals_change": "Hospitals' change",
        "districts_no_hospitals": (
            "No hospital scored in both periods in: {names} (hospital columns left blank)."
        ),
        "new_losses": "Rules that cost most more",
        "new_loss_item": "{rule} {title}: {before} → {after} points (−{more} more)",
        "regained_total": "Points regained (all units)",
        "regained_per_unit": "Per unit",
        "lost_before_after": "Lost before → after",
        "mean_row": "Mean",
        "mean_row_note": (
            "Mean row: the mean of each column; the mean of the relative changes is the per-unit "
            "average growth ({per_unit}). The growth of the mean score ({of_mean}) is the relative "
            "change of the mean, defined above."
        ),
        "index_intro": "{n} units were scored for {period}; the extracts of {errors} could not be read.",
        "index_campaigns": "Campaign reports",
        "index_open": "Open report",
        "failing_rules": "Rules not passed",
        "status": "Status",
        "status_ok": "OK",
        "status_unreadable": "Unreadable",
        "mean_score": "Mean score",
        "sort_hint": "Click a column header to sort.",
        "filter_kind": "Kind",
        "filter_all": "All",
        "filter_search": "Find",
        "filter_search_hint": "unit name or code",
        "index_districts": "Districts",
        "index_platform_score": "Platform score",
        "index_hospital_mean": "Hospitals' mean",
        "page_of": "Page {page} of {pages}",
    },
}

_MONTHS_EN = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def tr(lang: str, key: str, **fields: object) -> str:
    """The label ``key`` in ``lang`` (``zh`` or ``en``), formatted with ``fields``."""
    text = LABELS[lang][key]
    return text.format(**fields) if fields else text


def dimension_label(name: str, lang: str) -> str:
    """A quality dimension as the reports name it (完整性 / Completeness); an unknown one as given."""
    return LABELS[lang].get(f"dim_{name}", name)


def period_label(period: str, lang: str) -> str:
    """``2020-09`` → ``2020年9月`` / ``September 2020`` (anything else is returned as given)."""
    try:
        year, month = (int(x) for x in period.split("-"))
        if not 1 <= month <= 12:
            raise ValueError
    except ValueError:
        return period
    return f"{year}年{month}月" if lang == "zh" else f"{_MONTHS_EN[month - 1]} {year}"
